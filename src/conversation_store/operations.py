"""Operator-only calls: whole-store scans, messages per day, the orphan sweep, cleanup, stats,
and the deletion plans the CLI prints before it deletes (`DeletionPlan`).

Sync only, and not twinned: these serve the CLI and the app's insights, never a request path.
A store declares the scans (`SupportsScans`) and, where a conversation can leave parts behind
(Cosmos DB segments of a head its TTL removed), the orphan sweep (`SupportsOrphanSweep`).
The sync `ConversationManager` checks its inputs and the capabilities, then calls these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from conversation_store.models import ConversationKey, ConversationSummary, Stats, format_timestamp
from conversation_store.retention import cutoff, is_expired
from conversation_store.stats import compute_stats
from conversation_store.stores.protocol import ConversationStore


@runtime_checkable
class SupportsScans(Protocol):
    """Reading every conversation of one customer or of all, for operators."""

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        """Every conversation of one customer, or of all customers when None, in no order;
        with `updated_before` (a stored timestamp string), only those last updated earlier.

        Archived and expired conversations are included: this is for operators (stats,
        cleanup, export, transfer), not for users.
        """
        ...

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        """Messages per UTC day (`YYYY-MM-DD`, from each message's timestamp) of one customer
        or of all; expired conversations are left out."""
        ...


@runtime_checkable
class SupportsOrphanSweep(Protocol):
    """Deleting what a store keeps of conversations whose head is gone."""

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        """Delete what is left of conversations whose head is gone (on Cosmos DB, the segments
        of a conversation whose head the service expired), of one customer or of all; returns
        how many conversations they belonged to."""
        ...


@dataclass(frozen=True)
class DeletionPlan:
    """The conversations a deleting command would delete, in a stable order."""

    conversations: tuple[ConversationKey, ...]

    @property
    def customers(self) -> list[str]:
        """The customers those conversations belong to, sorted."""
        return sorted({key.customer_id for key in self.conversations})


def cleanup_plan(
    summaries: Iterable[ConversationSummary], days: float, *, now: datetime | None = None
) -> DeletionPlan:
    """The conversations among `summaries` not written for `days` days (no message and no
    header change: a conversation renamed or pinned lately is kept) or past their TTL (pure
    but for the clock, which `now` fixes)."""
    before = cutoff(days, now)
    doomed = [
        ConversationKey(s.customer_id, s.id)
        for s in summaries
        if format_timestamp(s.written_at) < before or is_expired(s.written_at, s.ttl, now)
    ]
    return DeletionPlan(tuple(sorted(doomed)))


def plan_cleanup(scans: SupportsScans, days: float, *, customer_id: str | None) -> DeletionPlan:
    """What `cleanup_old_conversations` would delete now (the orphan sweep aside)."""
    return cleanup_plan(scans.scan_conversations(customer_id=customer_id), days)


def plan_customer_deletion(scans: SupportsScans, customer_id: str) -> DeletionPlan:
    """Every conversation of the customer, archived and expired ones included: what deleting
    the customer's data deletes."""
    summaries = scans.scan_conversations(customer_id=customer_id)
    return DeletionPlan(tuple(sorted(ConversationKey(s.customer_id, s.id) for s in summaries)))


def cleanup_old_conversations(
    store: ConversationStore, scans: SupportsScans, days: float, *, customer_id: str | None
) -> int:
    """Delete the conversations of `store` (scanned through `scans`, the same store) that
    `plan_cleanup` names, then sweep its orphans if it has any kind; returns how many
    conversations that was."""
    plan = plan_cleanup(scans, days, customer_id=customer_id)
    for key in plan.conversations:
        store.delete_conversation(key)
    if not isinstance(store, SupportsOrphanSweep):
        return len(plan.conversations)
    return len(plan.conversations) + store.delete_orphans(customer_id=customer_id)


def get_stats(scans: SupportsScans, *, customer_id: str | None, top: int) -> Stats:
    """The statistics of one customer (every customer when None) from summaries and day
    counts: no message body is read."""
    return compute_stats(
        scans.scan_conversations(customer_id=customer_id),
        scans.count_messages_by_day(customer_id=customer_id),
        customer_id=customer_id,
        top=top,
    )
