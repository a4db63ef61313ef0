"""The async store boundary: the sync protocol's methods, awaited.

The sync-only operator calls (`scan_conversations`, `count_messages_by_day`,
`delete_orphans`, used by stats, cleanup and migration from the CLI) have no async twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    Message,
    Page,
    SearchHit,
)
from conversation_store.stores.protocol import HeaderUpdate


@runtime_checkable
class ConversationStore(Protocol):
    """The async twin of `conversation_store.ConversationStore`: same methods, awaited."""

    async def create_conversation(self, conversation: Conversation) -> Conversation:
        """Store a new conversation with its messages; returns it as stored (with its etag).

        Raises ConflictError if the id exists for this customer.
        """
        ...

    async def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        """Load a conversation with all its messages, or only its `last` newest ones.

        With `last`, a leading system message is pinned: it comes first even when older.

        Raises ConversationNotFoundError.
        """
        ...

    async def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        """Append messages atomically; a message whose id is already stored is skipped.

        Raises ConversationNotFoundError.
        """
        ...

    async def update_conversation(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        update: HeaderUpdate,
        etag: str | None = None,
    ) -> None:
        """Apply a header update; with `etag`, only if the stored version still matches.

        Raises ConversationNotFoundError, ConflictError (etag mismatch).
        """
        ...

    async def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        """Remove every message and reset the counters, keeping the conversation.

        Raises ConversationNotFoundError.
        """
        ...

    async def list_conversations(
        self,
        *,
        customer_id: str,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
    ) -> Page[ConversationSummary]:
        """The customer's conversations, most recently updated first, without messages."""
        ...

    async def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        """Delete a conversation and everything stored for it; succeeds if already gone."""
        ...

    async def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """Messages of `customer_id` holding every term of `query`, best first."""
        ...

    async def replace_message(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        message_id: str,
        message: Message | None,
    ) -> None:
        """Replace the message `message_id` by `message`, or remove it when None."""
        ...

    async def delete_customer(self, *, customer_id: str) -> int:
        """Delete every conversation of `customer_id`; returns how many there were."""
        ...

    async def close(self) -> None:
        """Release what the store opened; later calls raise StoreClosedError."""
        ...
