"""The save status line honours AppendResult.pending and a store's pending count."""

from __future__ import annotations

from streamlit_app.status import SAVED, PendingCounter, pending_count_of, save_status

from conversation_store import MemoryStore


class OutboxStore(MemoryStore):
    def pending_count(self) -> int:
        return 3


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


def test_pending_count_only_from_stores_with_an_outbox() -> None:
    assert pending_count_of(MemoryStore()) is None
    assert isinstance(OutboxStore(), PendingCounter)
    assert pending_count_of(OutboxStore()) == 3
