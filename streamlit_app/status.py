"""The save status line: "Saved", "Saving…", or "Saving locally — N pending"."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

SAVING = "Saving…"
SAVED = "Saved"


@runtime_checkable
class PendingCounter(Protocol):
    """A store that queues writes locally while its backend is unavailable."""

    def pending_count(self) -> int:
        """How many writes wait in the local outbox."""
        ...


def pending_count_of(store: object) -> int | None:
    """The store's outbox size, or None for a store without an outbox."""
    return store.pending_count() if isinstance(store, PendingCounter) else None


def save_status(*, pending: bool, pending_count: int | None, just_queued: int = 1) -> str:
    """The status after a write; `pending` is `AppendResult.pending` of the last write.

    With no count from the store, a pending write reports the messages it queued.
    """
    if pending_count:
        return f"Saving locally — {pending_count} pending"
    if pending:
        return f"Saving locally — {max(just_queued, 1)} pending"
    return SAVED
