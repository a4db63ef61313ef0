"""Pins in the sidebar (issue 18): Pin / Unpin in a row's menu, pinned rows in a "Pinned"
group above the others; and renaming, pinning or archiving moves no row in the listing."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import CID, SECRET, conversation_ids, literal, send
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.sidebar_ui import PINNED

from conversation_store import ConversationKey, ConversationManager, MemoryStore

AppFactory = Callable[..., AppTest]


def three(open_app: AppFactory, store: MemoryStore) -> tuple[AppTest, list[str]]:
    at = open_app(SECRET, store=store)
    for text in ("first", "second", "third"):
        at = at.sidebar.button(key="new_conversation").click().run()
        at = send(at, text)
    return at, conversation_ids(at)  # newest first: third, second, first


def test_pin_moves_a_row_into_the_pinned_group_and_unpin_puts_it_back(
    open_app: AppFactory,
) -> None:
    store = MemoryStore()
    at, (third, second, first) = three(open_app, store)
    assert PINNED not in [c.value for c in at.sidebar.caption]
    at.session_state[state_keys.row_menu(first)] = True
    at = at.sidebar.button(key=f"pin_{first}").click().run()
    assert conversation_ids(at) == [first, third, second]  # pinned on top
    captions = [c.value for c in at.sidebar.caption]
    assert captions.index(PINNED) < captions.index("Today")
    assert store.get_conversation(ConversationKey(CID, first)).pinned is True
    assert at.session_state[state_keys.row_menu(first)] is False  # the menu closed
    assert [literal(t.value) for t in at.toast] == ["Pinned “first”"]
    at = at.sidebar.button(key=f"unpin_{first}").click().run()
    assert conversation_ids(at) == [third, second, first]
    assert PINNED not in [c.value for c in at.sidebar.caption]
    assert store.get_conversation(ConversationKey(CID, first)).pinned is False


def test_a_pinned_conversation_that_is_archived_leaves_the_pinned_group(
    open_app: AppFactory,
) -> None:
    store = MemoryStore()
    at, (third, second, first) = three(open_app, store)
    ConversationManager(store).pin_conversation(second, CID)
    at = at.run()
    assert conversation_ids(at) == [second, third, first]
    at = at.sidebar.button(key=f"archive_{second}").click().run()
    assert conversation_ids(at) == [third, first]
    assert not [b for b in at.sidebar.button if b.key == f"pin_{second}"]


def test_renaming_moves_no_row(open_app: AppFactory) -> None:
    store = MemoryStore()
    at, (third, second, first) = three(open_app, store)
    at = at.sidebar.text_input(key=state_keys.title_input(first)).input("Renamed").run()
    assert conversation_ids(at) == [third, second, first]
