"""The save status line ("Saved", "Saving…", "Saving locally — N pending") and the warning
about parked writes (accepted, then refused for good by the store)."""

from __future__ import annotations

SAVING = "Saving…"
SAVED = "Saved"


def save_status(*, pending: bool, pending_count: int | None, just_queued: int = 1) -> str:
    """The status after a write; `pending` is `AppendResult.pending` of the last write.

    With no count from the store, a pending write reports the messages it queued.
    """
    if pending_count:
        return f"Saving locally — {pending_count} pending"
    if pending:
        return f"Saving locally — {max(just_queued, 1)} pending"
    return SAVED


def parked_status(parked: int | None) -> str | None:
    """The warning about parked writes; None when there are none (or no outbox)."""
    if not parked:
        return None
    writes = "1 write" if parked == 1 else f"{parked} writes"
    return f"{writes} could not be saved — run `conversation-store outbox list`"
