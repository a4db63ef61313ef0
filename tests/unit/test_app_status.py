"""The save status line honours AppendResult.pending and a store's pending count; parked
writes get their own warning."""

from __future__ import annotations

from pathlib import Path

from streamlit_app.status import SAVED, parked_status, save_status

from conversation_store import ConversationManager, MemoryStore, OutboxStore, SQLiteStore
from conversation_store.stores.outbox.queue import OutboxQueue


def test_saved_when_nothing_is_pending() -> None:
    assert save_status(pending=False, pending_count=None) == SAVED
    assert save_status(pending=False, pending_count=0) == SAVED


def test_pending_uses_the_store_count_when_known() -> None:
    assert save_status(pending=True, pending_count=3) == "Saving locally — 3 pending"
    assert save_status(pending=False, pending_count=2) == "Saving locally — 2 pending"


def test_pending_without_a_count_reports_what_was_queued() -> None:
    assert save_status(pending=True, pending_count=None) == "Saving locally — 1 pending"
    assert save_status(pending=True, pending_count=None, just_queued=2) == (
        "Saving locally — 2 pending"
    )


def test_pending_count_only_from_stores_with_an_outbox(tmp_path: Path) -> None:
    assert ConversationManager(MemoryStore()).pending_count() is None
    outbox = OutboxStore(
        SQLiteStore(tmp_path / "c.db"), OutboxQueue(tmp_path / "o.db"), background=False
    )
    with ConversationManager(outbox, owns_store=True) as manager:
        assert manager.pending_count() == 0


def test_parked_writes_are_counted_and_point_to_the_cli() -> None:
    assert parked_status(None) is None and parked_status(0) is None
    assert parked_status(1) == "1 write could not be saved — run `conversation-store outbox list`"
    assert parked_status(3) == "3 writes could not be saved — run `conversation-store outbox list`"
