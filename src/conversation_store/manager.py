"""The sync ConversationManager: the generated twin of `conversation_store.aio.manager`, plus
the calls with no async twin: the operator-only ones (cleanup, stats: `operations`) and the
state of the local outbox, which only the sync stores have."""

from __future__ import annotations

from conversation_store import manager_twin, operations
from conversation_store.ids import validate_id
from conversation_store.models import Stats
from conversation_store.stores.outbox.store import SupportsParkedWrites, SupportsPendingCount
from conversation_store.validation import (
    optional_customer,
    require_capability,
    validate_days,
    validate_limit,
)


class ConversationManager(manager_twin.ConversationManager):
    """Create, append to, load, list and delete conversations, and the operator calls.

    Arguments follow the seed API: `(conversation_id, customer_id)`. Every call names the
    customer, and a conversation of another customer is reported as not found. The manager
    holds no per-conversation state, so one instance may serve every thread of a process.
    """

    def cleanup_old_conversations(self, days: float, *, customer_id: str | None = None) -> int:
        """Delete conversations not updated for `days` days, and those past their TTL, of one
        customer or of all, and what the store kept of conversations already gone (Cosmos DB
        segments of expired heads); returns how many conversations that was.

        Raises InvalidInputError, UnsupportedOperationError (a store without scans).
        """
        self._check_open()
        checked_days = validate_days(days)
        customer = optional_customer(customer_id)
        scans = require_capability(self._store, operations.SupportsScans, "scans")
        return operations.cleanup_old_conversations(
            self._store, scans, checked_days, customer_id=customer
        )

    def plan_cleanup(
        self, days: float, *, customer_id: str | None = None
    ) -> operations.DeletionPlan:
        """What cleanup_old_conversations would delete now (the orphan sweep aside); deletes
        nothing. Raises InvalidInputError, UnsupportedOperationError (a store without scans)."""
        self._check_open()
        checked_days = validate_days(days)
        customer = optional_customer(customer_id)
        scans = require_capability(self._store, operations.SupportsScans, "scans")
        return operations.plan_cleanup(scans, checked_days, customer_id=customer)

    def plan_customer_deletion(self, customer_id: str) -> operations.DeletionPlan:
        """What delete_customer_data would delete now; deletes nothing. Raises
        InvalidInputError, UnsupportedOperationError (a store without scans)."""
        self._check_open()
        customer = validate_id(customer_id, "customer id")
        scans = require_capability(self._store, operations.SupportsScans, "scans")
        return operations.plan_customer_deletion(scans, customer)

    def get_stats(self, customer_id: str | None = None, *, top: int = 5) -> Stats:
        """Conversations, messages, tokens, averages, the longest conversation, the most
        active customers and messages per day — of one customer, or of all when None.

        Reads summaries and message timestamps only, never message bodies. Raises
        InvalidInputError, UnsupportedOperationError (a store without scans).
        """
        self._check_open()
        customer = optional_customer(customer_id)
        checked_top = validate_limit(top)
        scans = require_capability(self._store, operations.SupportsScans, "scans")
        return operations.get_stats(scans, customer_id=customer, top=checked_top)

    def pending_count(self) -> int | None:
        """How many writes wait in the local outbox for the store to be reachable again; None
        when the store has no outbox."""
        self._check_open()
        store = self._store
        return store.pending_count() if isinstance(store, SupportsPendingCount) else None

    def parked_count(self) -> int | None:
        """How many writes the store refused for good wait, parked in the local outbox, for an
        operator (`conversation-store outbox list`); None when the store has no outbox."""
        self._check_open()
        store = self._store
        return store.parked_count() if isinstance(store, SupportsParkedWrites) else None
