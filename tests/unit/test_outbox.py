"""Degraded mode at our own protocol: a primary store that can be switched off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    HeaderUpdate,
    MemoryStore,
    StoreUnavailableError,
    UnsupportedOperationError,
)
from conversation_store.models import ConversationKey
from conversation_store.operations import SupportsOrphanSweep
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore


class SwitchableStore(MemoryStore):
    """The in-memory store, made unreachable while `down` is set."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        if name in _IO_METHODS and object.__getattribute__(self, "down"):
            raise StoreUnavailableError("switched off by the test")
        return super().__getattribute__(name)


_IO_METHODS = {
    "create_conversation",
    "get_conversation",
    "append_messages",
    "update_conversation",
    "clear_messages",
    "list_conversations",
    "delete_conversation",
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
    ]
    for call in calls:
        with pytest.raises(UnsupportedOperationError):
            call()
    assert outbox.pending_count() == 1
    outbox.close()
