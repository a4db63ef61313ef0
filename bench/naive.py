"""The baseline: what the seed system did — keep the whole document, upsert it on every append.

One item per conversation, no size bound, no ETag: the request carries every message so far,
and two writers holding their own copy overwrite each other (last write wins).
"""

from __future__ import annotations

from typing import Any

from azure.cosmos import ContainerProxy

from conversation_store.models import format_timestamp, utc_now

LIST_QUERY = (
    "SELECT TOP @limit * FROM c WHERE c.customer_id = @customer_id ORDER BY c.updated_at DESC"
)


class NaiveConversationStore:
    """Whole-document writes with `upsert_item` (the SDK default: the item comes back too)."""

    def __init__(self, container: ContainerProxy) -> None:
        self._container = container

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        """Store `document` (seed schema plus counters) and return the copy to keep appending to."""
        self._container.upsert_item(document)
        return document

    def append(self, document: dict[str, Any], message: dict[str, Any]) -> None:
        """Add `message` to the kept document and upsert all of it."""
        document["messages"].append(message)
        document["message_count"] = len(document["messages"])
        document["updated_at"] = format_timestamp(utc_now())
        self._container.upsert_item(document)

    def load(self, customer_id: str, conversation_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self._container.read_item(conversation_id, partition_key=customer_id)
        return item

    def list_recent(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        return list(
            self._container.query_items(
                LIST_QUERY,
                parameters=[
                    {"name": "@limit", "value": limit},
                    {"name": "@customer_id", "value": customer_id},
                ],
                partition_key=customer_id,
            )
        )
