"""Sidebar actions under AppTest: rename, delete with confirmation, load more, search, export,
archive."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
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

from conversation_store import (
    AppendResult,
    ConversationKey,
    ConversationManager,
    MemoryStore,
    Message,
    SQLiteStore,
)
from conversation_store import OutboxStore as RealOutboxStore
from conversation_store.stores.outbox.queue import OutboxQueue

AppFactory = Callable[..., AppTest]


def test_rename(open_app: AppFactory) -> None:
    at = settle(send(open_app(SECRET), "old title"))
    [button] = [b for b in at.sidebar.button if b.key and b.key.startswith("open_")]
    conversation_id = button.key.removeprefix("open_")
    at.sidebar.text_input(key=f"title_{conversation_id}").set_value("New title")
    at = at.sidebar.button(key=f"rename_{conversation_id}").click().run()
    assert open_buttons(at) == ["New title"]
    assert at.title[0].value == "New title"


def test_delete_asks_for_confirmation(open_app: AppFactory) -> None:
    at = settle(send(open_app(SECRET), "doomed"))
    conversation_id = next(
        b.key for b in at.sidebar.button if b.key and b.key.startswith("open_")
    ).removeprefix("open_")
    at = at.sidebar.button(key=f"delete_{conversation_id}").click().run()
    assert any("cannot be undone" in w.value for w in at.sidebar.warning)
    at = at.sidebar.button(key=f"cancel_delete_{conversation_id}").click().run()
    assert open_buttons(at) == ["doomed"]
    at = at.sidebar.button(key=f"delete_{conversation_id}").click().run()
    at = at.sidebar.button(key=f"confirm_delete_{conversation_id}").click().run()
    assert open_buttons(at) == []
    assert at.title[0].value == "New conversation"  # the open conversation was deleted
    assert not at.main.chat_message


def test_groups_and_load_more(open_app: AppFactory) -> None:
    store = MemoryStore()
    manager = ConversationManager(store)
    for number in range(23):
        conversation = manager.create_conversation_document(CID, "s", title=f"chat {number}")
        manager.add_message_to_conversation(conversation, "user", "hi")
        manager.save_conversation(conversation)
    at = open_app(SECRET, store=store)
    assert "Today" in [c.value for c in at.sidebar.caption]
    assert len(open_buttons(at)) == 20
    at = at.sidebar.button(key="load_more").click().run()
    assert len(open_buttons(at)) == 23
    assert open_buttons(at)[0] == "chat 22"
    assert not [b for b in at.sidebar.button if b.key == "load_more"]


@pytest.mark.parametrize("store_kind", ["sqlite", "memory"])
def test_search_is_always_there_and_a_hit_opens_its_conversation(
    open_app: AppFactory, store_kind: str
) -> None:
    at = open_app(SECRET, store=MemoryStore() if store_kind == "memory" else None)
    at = send(at, "pandas are bears")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = settle(send(at, "koalas are not"))
    at = at.sidebar.text_input(key="search_query").set_value("PANDAS").run()
    hits = [b for b in at.sidebar.button if b.key and b.key.startswith("search_hit_")]
    # The user's message and the offline echo of it; nothing from the koala conversation.
    assert len(hits) == 2
    assert all(literal(b.label).startswith("pandas are bears — ") for b in hits)
    at = hits[0].click().run()
    assert chat_texts(at)[0] == ("user", "pandas are bears")
    assert literal(at.title[0].value) == "pandas are bears"
    at = at.sidebar.text_input(key="search_query").set_value("giraffes").run()
    assert any(c.value == "No messages match." for c in at.sidebar.caption)


def test_an_unusable_query_is_explained_not_raised(open_app: AppFactory) -> None:
    at = open_app(SECRET, store=MemoryStore())
    at = at.sidebar.text_input(key="search_query").set_value("x" * 5000).run()
    assert not at.exception
    assert any(c.value.startswith("Search failed:") for c in at.sidebar.caption)


def test_archive_show_archived_and_unarchive(open_app: AppFactory) -> None:
    at = send(open_app(SECRET), "keep me")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = settle(send(at, "put me away"))
    archived_id, kept_id = conversation_ids(at)
    at = at.sidebar.button(key=f"archive_{archived_id}").click().run()
    assert open_buttons(at) == ["keep me"]
    assert at.title[0].value == "New conversation"  # the open one was archived: a new one
    at.session_state["archived_section"] = True  # "Archived" opened: its own section
    at = at.run()
    assert open_buttons(at) == ["keep me", "put me away"]
    at = at.sidebar.button(key=f"open_{archived_id}").click().run()
    assert chat_texts(at)[0] == ("user", "put me away")  # archived ones still open
    at = at.sidebar.button(key=f"unarchive_{archived_id}").click().run()
    assert conversation_ids(at) == [archived_id, kept_id]
    assert any(c.value == "No archived conversations." for c in at.sidebar.caption)


def test_export_downloads_only_for_a_stored_conversation(open_app: AppFactory) -> None:
    at = open_app(SECRET)
    assert not at.get("download_button")
    at = send(at, "export me")
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) == {"JSON", "Markdown"}
    # The export functions are unit-tested; here the files are served with the right names.
    assert all(b.proto.url for b in buttons.values())


class OutboxStore(MemoryStore):
    """A store in degraded mode: every append is only queued locally."""

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        result = super().append_messages(key, messages)
        return result.model_copy(update={"pending": True})

    def pending_count(self) -> int:
        return 2


def test_status_line_shows_pending_writes(open_app: AppFactory) -> None:
    at = send(open_app(SECRET, store=OutboxStore()), "first")  # created: the store's count
    at = send(at, "second")
    assert [c.value for c in at.main.caption if "pending" in c.value] == [
        "Saving locally — 2 pending"
    ]


def test_parked_writes_are_reported_with_the_command_that_lists_them(
    open_app: AppFactory, tmp_path: Path
) -> None:
    outbox = RealOutboxStore(
        SQLiteStore(tmp_path / "primary.db"), OutboxQueue(tmp_path / "outbox.db"), background=False
    )
    at = send(open_app(SECRET, store=outbox), "saved")
    assert not at.main.warning
    # A write accepted earlier that the store then refuses for good: its conversation is gone.
    message = Message(id="m_parked", role="user", content="lost?")
    gone = ConversationKey(CID, "c_gone")
    queue = OutboxQueue(tmp_path / "outbox.db")  # another handle on the outbox file
    queue.put(gone, "append", {"messages": [message.model_dump(mode="json")]})
    queue.close()
    outbox.flush()
    at = at.run()
    assert [w.value for w in at.main.warning] == [
        "1 write could not be saved — run `conversation-store outbox list`"
    ]
    outbox.close()
