"""Degraded mode at our own protocol: a primary store that can be switched off."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    HeaderUpdate,
    InvalidInputError,
    MemoryStore,
    StoreUnavailableError,
    UnsupportedOperationError,
)
from conversation_store.models import AppendResult, ConversationKey, Message, ShareLink
from conversation_store.operations import SupportsOrphanSweep
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore


class SwitchableStore(MemoryStore):
    """The in-memory store, made unreachable while `down` is set; while `refusing` is set it
    refuses every append for good, as Cosmos DB refuses a write it finds invalid."""

    down = False
    refusing = False

    def __getattribute__(self, name: str) -> Any:
        if name in _IO_METHODS and object.__getattribute__(self, "down"):
            raise StoreUnavailableError("switched off by the test")
        return super().__getattribute__(name)

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        if self.refusing:
            raise InvalidInputError("refused by the test")
        return super().append_messages(key, messages)


_IO_METHODS = {
    "create_conversation",
    "get_conversation",
    "append_messages",
    "update_conversation",
    "clear_messages",
    "list_conversations",
    "delete_conversation",
    "put_share_link",
    "get_share_link",
    "delete_share_link",
}


@pytest.fixture
def primary() -> SwitchableStore:
    return SwitchableStore()


@pytest.fixture
def outbox(primary: SwitchableStore, tmp_path: Path) -> Iterator[OutboxStore]:
    store = OutboxStore(primary, OutboxQueue(tmp_path / "outbox.db"), background=False)
    yield store
    store.close()


def _conversation(manager: ConversationManager) -> str:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "before")
    manager.save_conversation(doc)
    return doc.id


def test_writes_while_down_are_pending_merged_into_reads_and_replayed_in_order(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    manager = ConversationManager(outbox)
    conversation_id = _conversation(manager)
    primary.down = True

    results = [
        manager.append_message(conversation_id, "alice", "user", f"offline {n}") for n in range(5)
    ]
    manager.rename_conversation(conversation_id, "alice", "Renamed offline")

    assert all(r.pending for r in results) and outbox.pending_count() == 6
    with pytest.raises(StoreUnavailableError):
        manager.load_conversation(conversation_id, "alice")  # never an empty history
    primary.down = False
    merged = manager.load_conversation(conversation_id, "alice")
    assert [m.content for m in merged.messages] == ["before", *[f"offline {n}" for n in range(5)]]
    assert merged.title == "Renamed offline"

    assert outbox.flush() == 0
    stored = primary.get_conversation(ConversationKey("alice", conversation_id))
    assert [m.content for m in stored.messages] == [m.content for m in merged.messages]
    assert stored.title == "Renamed offline"


def test_writes_queue_behind_pending_ones_even_once_the_primary_is_back(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    manager = ConversationManager(outbox)
    conversation_id = _conversation(manager)
    primary.down = True
    manager.append_message(conversation_id, "alice", "user", "first")
    primary.down = False

    second = manager.append_message(conversation_id, "alice", "user", "second")

    assert second.pending
    outbox.flush()
    stored = primary.get_conversation(ConversationKey("alice", conversation_id))
    assert [m.content for m in stored.messages] == ["before", "first", "second"]


def test_a_conversation_created_offline_is_listed_readable_and_replayed(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    manager = ConversationManager(outbox)
    primary.down = True
    doc = manager.create_conversation_document("alice", "s1", title="Offline chat")
    manager.add_message_to_conversation(doc, "user", "hello")
    manager.save_conversation(doc)
    manager.append_message(doc.id, "alice", "assistant", "hi")
    primary.down = False

    assert [s.title for s in manager.get_recent_conversations("alice").items] == ["Offline chat"]
    assert manager.get_history(doc.id, "alice", max_messages=1)[0].content == "hi"
    outbox.flush()
    assert outbox.flush() == 0  # a second replay finds nothing left and changes nothing
    stored = primary.get_conversation(ConversationKey("alice", doc.id))
    assert [m.content for m in stored.messages] == ["hello", "hi"]


def test_an_etag_update_is_never_queued(primary: SwitchableStore, outbox: OutboxStore) -> None:
    manager = ConversationManager(outbox)
    conversation_id = _conversation(manager)
    primary.down = True
    with pytest.raises(StoreUnavailableError):
        outbox.update_conversation(
            ConversationKey("alice", conversation_id),
            HeaderUpdate(fields={"title": "x"}),
            etag="1",
        )
    assert outbox.pending_count() == 0


def test_a_write_refused_for_good_is_parked_not_lost_and_does_not_block(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    manager = ConversationManager(outbox)
    kept = _conversation(manager)
    doomed = _conversation(manager)
    primary.down = True
    manager.append_message(doomed, "alice", "user", "to a conversation deleted elsewhere")
    manager.append_message(kept, "alice", "user", "still delivered")
    primary.down = False
    primary.delete_conversation(ConversationKey("alice", doomed))

    assert outbox.flush() == 0
    assert outbox.parked_count() == 1
    stored = primary.get_conversation(ConversationKey("alice", kept))
    assert stored.messages[-1].content == "still delivered"


def test_the_next_process_replays_what_a_crashed_one_queued(tmp_path: Path) -> None:
    primary = SwitchableStore()
    conversation_id = _conversation(ConversationManager(primary))
    primary.down = True
    crashed = OutboxStore(primary, OutboxQueue(tmp_path / "outbox.db"), background=False)
    ConversationManager(crashed).append_message(conversation_id, "alice", "user", "survives")
    primary.down = False  # the crashed process never flushes or closes its outbox

    with OutboxStore(primary, OutboxQueue(tmp_path / "outbox.db"), interval=0.05) as restarted:
        deadline = time.monotonic() + 10
        while restarted.pending_count() and time.monotonic() < deadline:
            time.sleep(0.02)
        stored = primary.get_conversation(ConversationKey("alice", conversation_id))
    assert [m.content for m in stored.messages] == ["before", "survives"]


class SweepingStore(MemoryStore):
    """A primary that may leave orphans behind, as Cosmos DB does."""

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        return 7


class CoreOnlyStore(MemoryStore):
    """A primary with the core protocol only: every capability blocked (None, as typing reads)."""

    search_messages = replace_message = clear_messages = delete_customer = None
    scan_conversations = count_messages_by_day = None
    put_share_link = get_share_link = delete_share_link = None


def test_the_outbox_sweeps_orphans_only_where_its_primary_has_them(tmp_path: Path) -> None:
    plain = OutboxStore(MemoryStore(), OutboxQueue(tmp_path / "a.db"), background=False)
    sweeping = OutboxStore(SweepingStore(), OutboxQueue(tmp_path / "b.db"), background=False)

    assert not isinstance(plain, SupportsOrphanSweep)
    assert isinstance(sweeping, SupportsOrphanSweep)
    assert sweeping.delete_orphans(customer_id="alice") == 7
    plain.close()
    sweeping.close()


def test_a_capability_the_primary_lacks_is_refused_before_anything_is_queued(
    tmp_path: Path,
) -> None:
    queue = OutboxQueue(tmp_path / "outbox.db")
    outbox = OutboxStore(CoreOnlyStore(), queue, background=False)
    conversation_id = _conversation(ConversationManager(outbox))
    key = ConversationKey("alice", conversation_id)
    queue.put(key, "append", {"messages": []})  # a write ahead: later writes would queue

    calls: list[Callable[[], object]] = [
        lambda: outbox.search_messages("alice", query="before", limit=5),
        lambda: outbox.replace_message(key, "m_1", None),
        lambda: outbox.clear_messages(key),
        lambda: outbox.delete_customer("alice"),
        lambda: outbox.scan_conversations(),
        lambda: outbox.count_messages_by_day(),
        lambda: outbox.put_share_link(
            ShareLink(token_hash="h", customer_id="alice", conversation_id=conversation_id)
        ),
        lambda: outbox.get_share_link("h"),
        lambda: outbox.delete_share_link("h"),
    ]
    for call in calls:
        with pytest.raises(UnsupportedOperationError):
            call()
    assert outbox.pending_count() == 1
    outbox.close()


def _park_one_append(primary: SwitchableStore, outbox: OutboxStore) -> tuple[str, int]:
    """A conversation with one append the primary refused for good; (its id, the write's seq)."""
    manager = ConversationManager(outbox)
    conversation_id = _conversation(manager)
    primary.down = True
    manager.append_message(conversation_id, "alice", "user", "refused later")
    primary.down, primary.refusing = False, True
    assert outbox.flush() == 0
    (parked,) = outbox.parked_writes()
    return conversation_id, parked.seq


def test_a_parked_append_is_listed_inspected_and_shown_marked_as_unsaved(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    conversation_id, seq = _park_one_append(primary, outbox)
    manager = ConversationManager(outbox)

    (listed,) = outbox.parked_writes()
    assert (listed.customer_id, listed.conversation_id, listed.operation) == (
        "alice",
        conversation_id,
        "append",
    )
    assert listed.error == "InvalidInputError: refused by the test"
    assert listed.queued_at <= listed.parked_at
    shown = outbox.parked_write(seq)
    assert [m["content"] for m in shown.payload["messages"]] == ["refused later"]
    assert manager.parked_count() == 1 and manager.pending_count() == 0
    loaded = manager.load_conversation(conversation_id, "alice")
    assert [(m.content, m.metadata.get("unsaved")) for m in loaded.messages] == [
        ("before", None),
        ("refused later", "parked: InvalidInputError: refused by the test"),
    ]
    window = manager.get_history(conversation_id, "alice", max_messages=1)
    assert [m.content for m in window] == ["refused later"]


def test_a_requeued_parked_write_is_replayed_and_a_dropped_one_is_gone(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    conversation_id, seq = _park_one_append(primary, outbox)
    manager = ConversationManager(outbox)
    key = ConversationKey("alice", conversation_id)
    primary.refusing = False

    outbox.requeue_parked(seq)
    assert outbox.parked_count() == 0 and outbox.pending_count() == 1
    assert outbox.flush() == 0
    assert [m.content for m in primary.get_conversation(key).messages] == [
        "before",
        "refused later",
    ]
    loaded = manager.load_conversation(conversation_id, "alice")
    assert all("unsaved" not in m.metadata for m in loaded.messages)

    primary.down = True
    manager.append_message(conversation_id, "alice", "user", "parked then dropped")
    primary.down, primary.refusing = False, True
    outbox.flush()
    (parked,) = outbox.parked_writes()
    outbox.drop_parked(parked.seq)
    assert manager.parked_count() == 0
    contents = [m.content for m in manager.load_conversation(conversation_id, "alice").messages]
    assert contents == ["before", "refused later"]


def test_an_unknown_parked_write_is_invalid_input_and_a_pending_one_cannot_be_dropped(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    conversation_id = _conversation(ConversationManager(outbox))
    primary.down = True
    ConversationManager(outbox).append_message(conversation_id, "alice", "user", "pending")
    (pending,) = outbox._queue.pending()

    for call in (outbox.parked_write, outbox.requeue_parked, outbox.drop_parked):
        with pytest.raises(InvalidInputError, match=f"no parked write {pending.seq}"):
            call(pending.seq)
        with pytest.raises(InvalidInputError, match="no parked write 999"):
            call(999)
    assert outbox.pending_count() == 1


def test_requeue_puts_a_parked_write_back_in_its_original_place(tmp_path: Path) -> None:
    queue = OutboxQueue(tmp_path / "outbox.db")
    key = ConversationKey("alice", "c_1")
    for n in range(3):
        queue.put(key, "append", {"n": n})
    first, second, third = queue.pending()
    queue.park(second.seq, "ConflictError: refused")
    assert [w.seq for w in queue.pending()] == [first.seq, third.seq]

    queue.requeue(second.seq)

    assert [w.payload["n"] for w in queue.pending()] == [0, 1, 2]
    queue.close()


def test_a_queue_file_of_the_older_layout_keeps_its_pending_and_parked_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:
        for table in ("outbox", "parked"):
            db.execute(
                f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "customer_id TEXT NOT NULL, conversation_id TEXT NOT NULL, "
                "operation TEXT NOT NULL, payload TEXT NOT NULL, queued_at TEXT NOT NULL, "
                "error TEXT)"
            )
        row = ("alice", "c_1", "append", '{"messages": []}', "2025-01-24T10:30:00.000000Z")
        db.execute(
            "INSERT INTO outbox (customer_id, conversation_id, operation, payload, queued_at) "
            "VALUES (?, ?, ?, ?, ?)",
            row,
        )
        db.execute(
            "INSERT INTO parked (customer_id, conversation_id, operation, payload, queued_at, "
            "error) VALUES (?, ?, ?, ?, ?, ?)",
            (*row, "ConflictError: gone"),
        )
    db.close()

    queue = OutboxQueue(path)
    assert queue.count() == 1
    (parked,) = queue.parked()
    assert (parked.error, parked.payload) == ("ConflictError: gone", {"messages": []})
    queue.requeue(parked.seq)
    assert queue.count() == 2 and queue.parked_count() == 0
    queue.close()
    assert OutboxQueue(path).count() == 2  # opening again changes nothing


def test_share_links_go_to_the_primary_and_are_never_queued(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    link = ShareLink(token_hash="h" * 64, customer_id="alice", conversation_id="c_1")
    outbox.put_share_link(link)
    assert primary.get_share_link(link.token_hash) == outbox.get_share_link(link.token_hash)

    primary.down = True
    calls: list[Callable[[], object]] = [
        lambda: outbox.put_share_link(link),
        lambda: outbox.get_share_link(link.token_hash),
        lambda: outbox.delete_share_link(link.token_hash),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailableError):
            call()
    assert outbox.pending_count() == 0
    primary.down = False
    outbox.delete_share_link(link.token_hash)
    assert outbox.get_share_link(link.token_hash) is None


def test_a_replayed_create_that_had_landed_merges_only_the_missing_messages(
    primary: SwitchableStore, outbox: OutboxStore
) -> None:
    manager = ConversationManager(primary)
    doc = manager.create_conversation_document("alice", "s1", conversation_id="c_landed")
    manager.add_message_to_conversation(doc, "user", "with an id")
    doc.messages.append(Message(role="assistant", content="a seed message without an id"))
    doc.message_count = 2
    # The create reached the primary, then the process died before dequeueing it.
    primary.create_conversation(doc)
    outbox._queue.put(
        ConversationKey("alice", doc.id), "create", {"conversation": doc.to_document()}
    )
    removal = Message(id="m_gone", role="user", content="removed")
    primary.append_messages(ConversationKey("alice", doc.id), [removal])
    primary.replace_message(ConversationKey("alice", doc.id), "m_gone", None)
    outbox._queue.put(
        ConversationKey("alice", doc.id),
        "replace_message",
        {"message_id": "m_gone", "message": None},
    )

    assert outbox.flush() == 0 and outbox.parked_count() == 0
    stored = primary.get_conversation(ConversationKey("alice", doc.id))
    assert [m.content for m in stored.messages] == [
        "with an id",
        "a seed message without an id",
    ]
    assert stored.message_count == 2
