"""Findings 4 and 8 of issue 18 under AppTest: menus that close after their action, a rename
that Enter submits and that refuses an empty title, and the sidebar's rows, search hits and
downloads (their look in a real browser: tests/e2e/test_ux_browser.py)."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import SECRET, conversation_ids, literal, open_buttons, send
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.sidebar_style import sidebar_css
from streamlit_app.sidebar_ui import EMPTY_TITLE

from conversation_store import MemoryStore

AppFactory = Callable[..., AppTest]


def opened_menu(at: AppTest, conversation_id: str) -> AppTest:
    """The row's ⋮ menu opened, as a click on it does (it tracks its state)."""
    at.session_state[state_keys.row_menu(conversation_id)] = True
    return at.run()


def test_enter_in_the_title_box_renames_and_closes_the_menu(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "old title")
    [conversation_id] = conversation_ids(at)
    at = opened_menu(at, conversation_id)
    # Enter (or leaving the box) commits the text: no button click needed, nothing lost.
    at = at.sidebar.text_input(key=state_keys.title_input(conversation_id)).input("Tokyo").run()
    assert open_buttons(at) == ["Tokyo"] and at.title[0].value == "Tokyo"
    assert at.session_state[state_keys.row_menu(conversation_id)] is False
    assert [literal(t.value) for t in at.toast] == ["Renamed to “Tokyo”"]


def test_an_empty_title_is_refused_with_an_error_in_the_open_menu(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "keep this title")
    [conversation_id] = conversation_ids(at)
    at = opened_menu(at, conversation_id)
    at = at.sidebar.text_input(key=state_keys.title_input(conversation_id)).input("   ").run()
    assert [e.value for e in at.sidebar.error] == [EMPTY_TITLE]
    assert open_buttons(at) == ["keep this title"]
    assert at.session_state[state_keys.row_menu(conversation_id)] is True  # still open
    at = at.sidebar.text_input(key=state_keys.title_input(conversation_id)).input("Fixed").run()
    assert not at.sidebar.error and open_buttons(at) == ["Fixed"]


def test_archive_and_delete_close_the_menu(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "one")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = send(at, "two")
    two, one = conversation_ids(at)
    at = opened_menu(at, one)
    at = at.sidebar.button(key=f"delete_{one}").click().run()
    assert at.session_state[state_keys.row_menu(one)] is False
    at = at.sidebar.button(key=f"cancel_delete_{one}").click().run()
    at = opened_menu(at, two)
    at = at.sidebar.button(key=f"archive_{two}").click().run()
    assert at.session_state[state_keys.row_menu(two)] is False


def test_rows_are_alike_the_open_one_highlighted_by_style_only(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "first")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = send(at, "second")
    second, first = conversation_ids(at)
    rows = [b for b in at.sidebar.button if b.key and b.key.startswith("open_")]
    assert {b.proto.type for b in rows} == {"tertiary"}  # no solid primary button
    assert not any(b.proto.help for b in rows)  # no tooltip to cover the next row
    styles = " ".join(h.proto.body for h in at.get("html"))
    assert f".st-key-row_{second} " in styles and f".st-key-row_{first} " not in styles
    assert sidebar_css(second) in styles


def test_the_highlight_css_takes_only_ids_of_our_shape() -> None:
    assert "st-key-row_c_01ABC" in sidebar_css("c_01ABC")
    for hostile in ("x} body {display:none", "a b", "</style><script>", ""):
        assert sidebar_css(hostile) == sidebar_css(None)


def test_search_hits_mark_the_matched_words_and_escape_the_rest(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "*Pandas* eat [bamboo](x)")
    at = at.sidebar.text_input(key="search_query").input("pandas").run()
    hits = [b for b in at.sidebar.button if b.key and b.key.startswith("search_hit_")]
    assert hits
    user_hit = hits[0].label
    assert "**Pandas**" in user_hit  # the matched word, bold
    assert "\\*" in user_hit and "\\[bamboo\\]" in user_hit  # the user's Markdown, literal
    assert {b.proto.type for b in hits} == {"secondary"}  # a bordered, clickable button


def test_downloads_are_in_the_header_not_below_the_rows(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "export me")
    assert not at.sidebar.get("download_button")
    assert {b.proto.label for b in at.main.get("download_button")} == {"JSON", "Markdown"}
