"""Titles and summaries from the background enricher, and the message menu (fork, edit,
delete), under AppTest."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import (
    CID,
    SECRET,
    chat_texts,
    conversation_ids,
    literal,
    open_buttons,
    send,
    settle,
)
from streamlit.testing.v1 import AppTest

from conversation_store import ConversationKey, ConversationManager, MemoryStore, SQLiteStore

AppFactory = Callable[..., AppTest]


def test_the_page_leaves_titles_to_the_enricher(open_app: AppFactory) -> None:
    store = MemoryStore()
    at = send(open_app(SECRET, store=store, enrich=False), "Plan a trip to Tokyo")
    at = at.run()
    # Until a title is stored, the header and the open row show the first words.
    assert open_buttons(at) == ["Plan a trip to Tokyo"]
    assert at.title[0].value == "Plan a trip to Tokyo"
    [conversation_id] = conversation_ids(at)
    assert store.get_conversation(ConversationKey(CID, conversation_id)).title is None


def test_title_then_summary_appear_after_enough_turns(open_app: AppFactory) -> None:
    at = settle(send(open_app(SECRET), "Plan a trip to Tokyo. In spring."))
    assert literal(at.title[0].value) == "Plan a trip to Tokyo. In spring."
    assert open_buttons(at) == ["Plan a trip to Tokyo. In spring."]
    at = settle(send(send(at, "What about Kyoto? Two days."), "Book a hotel."))
    summary = "Plan a trip to Tokyo. · What about Kyoto? · Book a hotel."
    assert summary in [literal(c.value) for c in at.main.caption]
    # In the row's menu, not in a tooltip that would cover the next row.
    assert summary in [literal(c.value) for c in at.sidebar.caption]


def test_a_summary_shows_when_a_conversation_is_opened(open_app: AppFactory) -> None:
    store = MemoryStore()
    manager = ConversationManager(store)
    conversation = manager.create_conversation_document(CID, "s", title="Stored")
    manager.add_message_to_conversation(conversation, "user", "hi")
    manager.save_conversation(conversation)
    manager.set_summary(conversation.id, CID, "A greeting, nothing more.")
    at = open_app(SECRET, store=store)
    assert "A greeting, nothing more." not in [literal(c.value) for c in at.main.caption]
    at = at.sidebar.button(key=f"open_{conversation.id}").click().run()
    assert "A greeting, nothing more." in [literal(c.value) for c in at.main.caption]


def test_fork_from_a_message_opens_the_fork(open_app: AppFactory) -> None:
    at = settle(send(send(open_app(SECRET), "first question"), "second question"))
    [original] = conversation_ids(at)
    fork_buttons = [b for b in at.main.button if b.key and b.key.startswith("fork_")]
    assert len(fork_buttons) == 4  # one per shown message
    at = fork_buttons[1].click().run()  # at the first assistant reply
    assert not at.exception
    assert [role for role, _ in chat_texts(at)] == ["user", "assistant"]
    assert chat_texts(at)[0] == ("user", "first question")
    assert literal(at.title[0].value) == "first question (fork)"
    assert open_buttons(at) == ["first question (fork)", "first question"]
    assert conversation_ids(at)[1] == original
    at = send(at, "a different turn")  # the fork is open: new turns go to it
    fork_id = conversation_ids(at)[0]
    assert fork_id != original
    at = at.sidebar.button(key=f"open_{original}").click().run()
    assert [text for role, text in chat_texts(at) if role == "user"] == [
        "first question",
        "second question",
    ]


def test_fork_of_a_deleted_conversation_is_reported(open_app: AppFactory) -> None:
    store = MemoryStore()
    at = send(open_app(SECRET, store=store), "soon gone")
    [conversation_id] = conversation_ids(at)
    store.delete_conversation(ConversationKey(CID, conversation_id))
    fork = next(b for b in at.main.button if b.key and b.key.startswith("fork_"))
    at = fork.click().run()
    assert not at.exception
    assert any("no longer exists" in w.value for w in at.main.warning)


def message_keys(at: AppTest, prefix: str) -> list[str]:
    return [b.key for b in at.main.button if b.key and b.key.startswith(prefix)]


def test_edit_a_message_in_place(open_app: AppFactory, db_path) -> None:
    at = send(open_app(SECRET), "teh typo")
    at = at.run()  # a later run: every message drawn with its menu
    [user_edit, _] = message_keys(at, "edit_")
    message_id = user_edit.removeprefix("edit_")
    at = at.main.button(key=user_edit).click().run()
    assert at.main.text_area(key=f"edit_text_{message_id}").value == "teh typo"
    at.main.text_area(key=f"edit_text_{message_id}").set_value("the typo, fixed")
    at = at.main.button(key=f"save_edit_{message_id}").click().run()
    assert not at.main.text_area
    assert chat_texts(at)[0] == ("user", "the typo, fixed")
    [conversation_id] = conversation_ids(at)
    with SQLiteStore(db_path) as store:
        stored = store.get_conversation(ConversationKey(CID, conversation_id))
    assert stored.messages[0].content == "the typo, fixed"
    assert "edited_at" in stored.messages[0].metadata


def test_a_blank_edit_is_refused_and_cancel_leaves_the_text(open_app: AppFactory) -> None:
    at = send(open_app(SECRET), "keep this").run()
    [user_edit, _] = message_keys(at, "edit_")
    message_id = user_edit.removeprefix("edit_")
    at = at.main.button(key=user_edit).click().run()
    at.main.text_area(key=f"edit_text_{message_id}").set_value("   ")
    at = at.main.button(key=f"save_edit_{message_id}").click().run()
    assert any(w.value.startswith("That is not possible") for w in at.main.warning)
    at = at.main.button(key=f"cancel_edit_{message_id}").click().run()
    assert chat_texts(at)[0] == ("user", "keep this")


def test_delete_a_message(open_app: AppFactory) -> None:
    at = send(open_app(SECRET), "one")
    at = send(at, "two").run()
    deletes = message_keys(at, "delete_message_")
    assert len(deletes) == 4
    at = at.main.button(key=deletes[0]).click().run()
    message_id = deletes[0].removeprefix("delete_message_")
    at = at.main.button(key=f"confirm_delete_message_{message_id}").click().run()
    assert [text for role, text in chat_texts(at) if role == "user"] == ["two"]
    assert len(message_keys(at, "delete_message_")) == 3
