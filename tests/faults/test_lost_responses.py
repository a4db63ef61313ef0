"""Each manager call whose first attempt landed but whose answer was lost (the store raised
StoreUnavailableError after writing) succeeds when retried, and stores nothing twice: the
customer's export after the retry equals the export after one clean call. Over a real
SQLite file, through `FaultyStore` at our own protocol."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import FaultyStore

from conversation_store import (
    ConversationManager,
    Message,
    ShareLink,
    SQLiteStore,
    StoreUnavailableError,
)

CUSTOMER = "alice"
Call = Callable[[ConversationManager], object]


class FaultySharingStore(FaultyStore):
    """`FaultyStore` with share links, whose writes fail as armed."""

    def __init__(self, inner: SQLiteStore) -> None:
        super().__init__(inner)
        self._links = inner

    def put_share_link(self, link: ShareLink) -> None:
        self._write(lambda: self._links.put_share_link(link))

    def get_share_link(self, token_hash: str) -> ShareLink | None:
        return self._links.get_share_link(token_hash)

    def delete_share_link(self, token_hash: str) -> None:
        self._write(lambda: self._links.delete_share_link(token_hash))


def _messages() -> list[Message]:
    return [Message(id=f"m{n}", role="user", content=f"hello {n}") for n in range(3)]


CALLS: dict[str, Call] = {
    "append_messages": lambda m: m.append_messages("c1", CUSTOMER, _messages()),
    "append_message with id": lambda m: m.append_message(
        "c1", CUSTOMER, "user", "hi", message_id="m_new"
    ),
    "update_metadata": lambda m: m.update_metadata("c1", CUSTOMER, {"k": 1}, remove=["old"]),
    "rename": lambda m: m.rename_conversation("c1", CUSTOMER, "renamed"),
    "set_conversation_ttl": lambda m: m.set_conversation_ttl("c1", CUSTOMER, 3600),
    "archive": lambda m: m.archive_conversation("c1", CUSTOMER),
    "set_summary": lambda m: m.set_summary("c1", CUSTOMER, "a summary"),
    "unshare": lambda m: m.unshare_conversation("c1", CUSTOMER),
    "delete": lambda m: m.delete_conversation("c1", CUSTOMER),
    "clear": lambda m: m.clear_conversation("c1", CUSTOMER),
}


def _prepared(path: Path) -> tuple[ConversationManager, FaultySharingStore]:
    store = FaultySharingStore(SQLiteStore(path))
    manager = ConversationManager(store)
    manager.save_conversation(
        manager.create_conversation_document(CUSTOMER, "s", conversation_id="c1")
    )
    manager.update_metadata("c1", CUSTOMER, {"old": True})
    manager.append_message("c1", CUSTOMER, "user", "first", message_id="m_first")
    manager.share_conversation("c1", CUSTOMER)
    return manager, store


def _export(manager: ConversationManager) -> list[object]:
    """The customer's conversations as exported, without the times each run stamps and the
    random share link."""
    bundle = json.loads(manager.export_customer(CUSTOMER))
    for conversation in bundle["conversations"]:
        for name in ("created_at", "updated_at", "header_updated_at", "share_id"):
            conversation.pop(name, None)
        for message in conversation["messages"]:
            message.pop("timestamp")
    conversations: list[object] = bundle["conversations"]
    return conversations


def _retried_after_a_lost_answer(path: Path, call: Call) -> list[object]:
    manager, store = _prepared(path)
    store.arm("after")
    with pytest.raises(StoreUnavailableError):
        call(manager)
    assert store.fired["after"] == 1
    call(manager)
    return _export(manager)


def _called_once(path: Path, call: Call) -> list[object]:
    manager, _ = _prepared(path)
    call(manager)
    return _export(manager)


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_a_call_retried_after_its_answer_was_lost_succeeds_and_stores_it_once(
    tmp_path: Path, call: Call
) -> None:
    retried = _retried_after_a_lost_answer(tmp_path / "retried.db", call)
    assert retried == _called_once(tmp_path / "once.db", call)


def test_a_rename_with_etag_retried_after_a_lost_answer_succeeds(tmp_path: Path) -> None:
    manager, store = _prepared(tmp_path / "rename.db")
    etag = manager.load_conversation("c1", CUSTOMER).etag
    store.arm("after")
    with pytest.raises(StoreUnavailableError):
        manager.rename_conversation("c1", CUSTOMER, "renamed", etag=etag)
    manager.rename_conversation("c1", CUSTOMER, "renamed", etag=etag)  # the same call again
    assert manager.load_conversation("c1", CUSTOMER).title == "renamed"


def test_a_move_retried_after_a_lost_answer_moves_each_conversation_once(tmp_path: Path) -> None:
    manager, store = _prepared(tmp_path / "move.db")
    store.arm("after")  # the copy into bob lands, its answer is lost
    with pytest.raises(StoreUnavailableError):
        manager.move_customer_data(CUSTOMER, "bob")
    assert manager.move_customer_data(CUSTOMER, "bob") == 1
    moved = manager.load_conversation("c1", "bob")
    assert [m.id for m in moved.messages] == ["m_first"]
    assert manager.get_recent_conversations(CUSTOMER, archived=None).items == []


def test_a_share_retried_after_a_lost_answer_leaves_one_live_link(tmp_path: Path) -> None:
    manager, store = _prepared(tmp_path / "share.db")
    store.arm("after")
    with pytest.raises(StoreUnavailableError):
        manager.share_conversation("c1", CUSTOMER, expires_in=60)
    token = manager.share_conversation("c1", CUSTOMER, expires_in=60)
    assert manager.open_shared_conversation(token).message_count == 1
    with sqlite3.connect(tmp_path / "share.db") as raw:
        assert raw.execute("SELECT count(*) FROM share_links").fetchone() == (1,)
