"""The save status line: "Saved", "Saving…", or "Saving locally — N pending"."""

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
