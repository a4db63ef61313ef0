"""The Azure Cosmos DB for NoSQL store (sync): the generated twin plus the operator-only calls.

Everything a conversation's user does is in `twin.CosmosStore`, generated from
`conversation_store.aio.cosmos`. The scans, day counts and orphan sweep serve the CLI, which
runs synchronously across customers, so they have no async twin and live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from azure.cosmos import ContainerProxy

from conversation_store.models import ConversationSummary
from conversation_store.stores.cosmos import items as docs
from conversation_store.stores.cosmos import queries, twin
from conversation_store.stores.cosmos.boundary import spanning


class CosmosStore(twin.CosmosStore):
    """Conversations in one Cosmos DB container partitioned by `/customer_id`.

    Thread-safe: the SDK client is, and the store keeps no per-conversation state.
    """

    def __init__(
        self,
        container: ContainerProxy | Callable[[], twin.Connection],
        *,
        orphan_grace_seconds: float = docs.ORPHAN_GRACE_SECONDS,
        **options: Any,
    ) -> None:
        """`options` are those of `twin.CosmosStore`. `orphan_grace_seconds`: how old a segment
        without its head must be before `delete_orphans` removes it."""
        super().__init__(container, **options)
        self._orphan_grace_seconds = orphan_grace_seconds

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        query = queries.scan_query(customer_id, updated_before)
        for page in self._query_items(spanning(customer_id), "scan", query):
            yield from (ConversationSummary.model_validate(item) for item in page)

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        """Three queries: the messages of live heads, the live heads, and the segments' messages
        (counted when their head is live and of their generation). No GROUP BY: not every
        Cosmos-compatible server has it, and a day's count is cheap to add up here."""
        key, now = spanning(customer_id), docs.epoch_seconds()
        days: dict[str, int] = {}
        for page in self._query_items(key, "count", queries.head_days_query(customer_id, now)):
            queries.count_head_days(days, page)
        live = {
            queries.head_identity(head)
            for head in self._query(key, "count", queries.live_heads_query(customer_id, now))
        }
        for page in self._query_items(key, "count", queries.segment_days_query(customer_id)):
            queries.count_segment_days(days, page, live)
        return days

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        """Two queries (segments written more than `orphan_grace_seconds` ago, then the heads)
        and a batch per 100 orphaned segments: those whose head is gone or of another
        generation (a delete, clear or crash left them). The grace spares a large create in
        progress, which writes its segments before its head."""
        key = spanning(customer_id)
        written_before = docs.epoch_seconds() - int(self._orphan_grace_seconds)
        old = queries.old_segments_query(customer_id, written_before)
        segments = self._query(key, "cleanup", old)
        if not segments:
            return 0
        heads = self._query(key, "cleanup", queries.head_ids_query(customer_id))
        conversations = 0
        for customer, items in queries.orphans(segments, heads).items():
            self._delete_items(spanning(customer), items)
            conversations += len({item["conversation_id"] for item in items})
        return conversations
