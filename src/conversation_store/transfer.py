"""Transfer: copy every conversation of one store into another (e.g. SQLite to Cosmos DB).

A conversation the target lacks is created whole, with its header and every message. One it
holds is brought up to date by `syncing.plan_sync`: what the source added (messages) or
changed later than the target (header fields, edited messages) is written; nothing is deleted.
So a second run changes nothing, a run that was interrupted finishes when run again without
duplicating a message, and a run after the app switched stores catches up with the source
without undoing what was written to the target since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from conversation_store.exceptions import (
    AccessDeniedError,
    ConversationNotFoundError,
    ConversationStoreError,
    StoreClosedError,
    StoreUnavailableError,
)
from conversation_store.manager import ConversationManager
from conversation_store.models import ConversationKey
from conversation_store.operations import SupportsScans
from conversation_store.stores.protocol import ConversationStore
from conversation_store.syncing import SyncOutcome
from conversation_store.validation import optional_customer, require_capability

CopyOutcome = SyncOutcome | Literal["skipped"]
Outcome = CopyOutcome | Literal["failed"]

# Errors that would fail every later conversation too: going on would only slow the operator
# down (each one is retried first), so the run stops and a re-run resumes it.
RUN_STOPPING_ERRORS = (AccessDeniedError, StoreUnavailableError, StoreClosedError)


@dataclass(frozen=True)
class TransferFailure:
    """One conversation that could not be copied, and why."""

    customer_id: str
    conversation_id: str
    error: str


@dataclass
class TransferReport:
    """How many conversations each outcome had; `skipped` ones vanished from the source (deleted
    or expired) after they were listed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failures: list[TransferFailure] = field(default_factory=list)
    stopped_by: str | None = None  # the error that ended the run early, if one did

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def succeeded(self) -> bool:
        """True when every listed conversation is now in the target (or gone from the source)."""
        return not self.failures and self.stopped_by is None

    def record(self, outcome: CopyOutcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {self.skipped}, failed {self.failed}"
        )


def transfer(
    source: ConversationStore,
    target: ConversationManager,
    *,
    customer_id: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[Outcome], None] | None = None,
) -> TransferReport:
    """Copy the conversations of `customer_id` (every customer's when None) from `source` into
    `target`, one at a time, and report what happened to each.

    `on_start` receives how many conversations will be visited, `on_progress` the outcome of
    each. A conversation that fails (e.g. too large for the target) is recorded
    and the others go on; an error that dooms the rest (access denied, store unavailable)
    stops the run and is recorded in `stopped_by`. Raises InvalidInputError (bad customer id),
    UnsupportedOperationError (a source without scans).
    """
    keys = conversation_keys(source, optional_customer(customer_id))
    if on_start is not None:
        on_start(len(keys))
    report = TransferReport()
    for key in keys:
        outcome: Outcome
        try:
            outcome = copy_conversation(source, target, key)
        except RUN_STOPPING_ERRORS as exc:
            report.stopped_by = f"{type(exc).__name__}: {exc}"
            break
        except ConversationStoreError as exc:
            report.failures.append(TransferFailure(*key, str(exc)))
            outcome = "failed"
        else:
            report.record(outcome)
        if on_progress is not None:
            on_progress(outcome)
    return report


def conversation_keys(source: ConversationStore, customer_id: str | None) -> list[ConversationKey]:
    """The key of every conversation to copy, sorted, so every run visits them in the same
    order (ids are time-sortable: oldest first within a customer)."""
    scans = require_capability(source, SupportsScans, "scans")
    return sorted(
        ConversationKey(s.customer_id, s.id)
        for s in scans.scan_conversations(customer_id=customer_id)
    )


def copy_conversation(
    source: ConversationStore, target: ConversationManager, key: ConversationKey
) -> CopyOutcome:
    """Create one conversation in the target, or bring the target's copy up to date
    (`ConversationManager.sync_conversation`).

    Raises ConversationStoreError.
    """
    try:
        conversation = source.get_conversation(key)
    except ConversationNotFoundError:
        return "skipped"
    return target.sync_conversation(conversation)
