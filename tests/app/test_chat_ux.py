"""Findings 2, 5, 6 and 9 of issue 18 under AppTest: user text shown as typed, message
deletion confirmed, feedback that stays current, archived conversations read-only."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import SECRET, chat_texts, conversation_ids, literal, open_buttons, send
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.chat_ui import ARCHIVED_BANNER
from streamlit_app.sidebar_ui import UNTITLED_ROW

from conversation_store import MemoryStore

AppFactory = Callable[..., AppTest]
MARKDOWN = "# Big heading\n**not bold** [link](http://x) <b>tag</b> :red[x]"


def toasts(at: AppTest) -> list[str]:
    return [literal(t.value) for t in at.toast]


def message_ids(at: AppTest) -> list[str]:
    return [
        b.key.removeprefix("fork_") for b in at.main.button if b.key and b.key.startswith("fork_")
    ]


def test_user_text_is_plain_everywhere_and_the_assistant_keeps_markdown(
    open_app: AppFactory,
) -> None:
    at = send(open_app(SECRET, store=MemoryStore(), enrich=False), MARKDOWN)
    user = at.main.chat_message[0]
    assert user.name == "user" and not user.markdown  # no Markdown element for user text
    assert user.text[0].value == MARKDOWN
    assistant = at.main.chat_message[1]
    assert assistant.markdown and not assistant.text
    # The header and the sidebar row show the first line literally (escaped Markdown).
    assert literal(at.title[0].value) == "# Big heading"
    assert at.title[0].value.startswith("\\#")
    assert open_buttons(at) == ["# Big heading"]
    again = at.run()  # drawn again from the store: still plain
    assert again.main.chat_message[0].text[0].value == MARKDOWN


def test_deleting_a_message_asks_first(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "keep or drop")
    question, _ = message_ids(at)
    at = at.main.button(key=f"delete_message_{question}").click().run()
    assert [w.value for w in at.main.warning] == ["Delete this message? This cannot be undone."]
    assert len(chat_texts(at)) == 2  # nothing deleted yet
    assert at.session_state[state_keys.message_menu(question)] is False  # the menu closed
    at = at.main.button(key=f"cancel_delete_message_{question}").click().run()
    assert not at.main.warning and len(chat_texts(at)) == 2
    at = at.main.button(key=f"delete_message_{question}").click().run()
    at = at.main.button(key=f"confirm_delete_message_{question}").click().run()
    assert [role for role, _ in chat_texts(at)] == ["assistant"]
    assert toasts(at) == ["Message deleted"]


def test_deleting_the_open_conversation_drops_saved_and_says_so(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "soon gone")
    assert any(c.value == "Saved" for c in at.main.caption)
    [conversation_id] = conversation_ids(at)
    at = at.sidebar.button(key=f"delete_{conversation_id}").click().run()
    at = at.sidebar.button(key=f"confirm_delete_{conversation_id}").click().run()
    assert not any(c.value == "Saved" for c in at.main.caption)
    assert toasts(at) == ["Deleted “soon gone”"]
    assert at.run().toast == []  # once


def test_archiving_says_so(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "tidy up")
    [conversation_id] = conversation_ids(at)
    at = at.sidebar.button(key=f"archive_{conversation_id}").click().run()
    assert toasts(at) == ["Archived “tidy up”"]
    assert not any(c.value == "Saved" for c in at.main.caption)


def test_the_title_reads_right_after_the_first_turn(open_app: AppFactory) -> None:
    # No enricher: the stored title never comes, the header shows the first words at once.
    at = send(open_app(SECRET, store=MemoryStore(), enrich=False), "Plan a trip to Tokyo")
    assert at.title[0].value == "Plan a trip to Tokyo"
    assert open_buttons(at) == ["Plan a trip to Tokyo"]
    at = at.sidebar.button(key="new_conversation").click().run()
    assert at.title[0].value == "New conversation"
    # Not the open one, and untitled: it reads unlike the "New conversation" button.
    assert open_buttons(at) == [UNTITLED_ROW]


def test_an_archived_conversation_is_read_only_until_restored(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=MemoryStore()), "old news")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = send(at, "current")
    current, archived = conversation_ids(at)
    at = at.sidebar.button(key=f"archive_{archived}").click().run()
    assert conversation_ids(at) == [current]  # the active list is still there
    at.session_state[state_keys.ARCHIVED_SECTION] = True  # the user opens "Archived"
    at = at.run()
    assert conversation_ids(at) == [current, archived]  # its own section, below the list
    at = at.sidebar.button(key=f"open_{archived}").click().run()
    assert chat_texts(at)[0] == ("user", "old news")
    assert [i.value for i in at.main.info] == [ARCHIVED_BANNER]
    assert not at.chat_input  # no new messages
    keys = {b.key for b in at.main.button}
    assert not any(k.startswith(("edit_", "delete_message_")) for k in keys)
    assert any(k.startswith("fork_") for k in keys)  # a copy can still be made
    at = at.main.button(key="restore_open").click().run()
    assert not at.main.info and at.chat_input
    assert toasts(at) == ["Restored: you can continue this conversation"]
    at = send(at, "back in business")
    assert chat_texts(at)[-2] == ("user", "back in business")
