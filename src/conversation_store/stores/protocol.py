"""The storage boundary: a handful of methods every backend implements.

All methods are keyword-only and scoped by `customer_id` (the Cosmos partition key), so no
call can reach a conversation without naming its customer. Stores translate their own errors
into `conversation_store.exceptions` and never return "not found" for a fault.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import JsonValue

from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    Message,
    Page,
    SearchHit,
)


@dataclass(frozen=True)
class HeaderUpdate:
    """Changes to a conversation's header: whole fields, and single metadata keys.

    Metadata is changed key by key so that two writers touching different keys both win.
    """

    fields: dict[str, JsonValue] = field(default_factory=dict)
    metadata_set: dict[str, JsonValue] = field(default_factory=dict)
    metadata_removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.fields or self.metadata_set or self.metadata_removed)


@runtime_checkable
class ConversationStore(Protocol):
    """Persistence of conversations, one partition per customer.

    Threading: every store may be shared by the threads of one process (Streamlit runs each
    script run on its own thread).
    """

    def create_conversation(self, conversation: Conversation) -> Conversation:
        """Store a new conversation with its messages; returns it as stored (with its etag).

        Raises ConflictError if the id exists for this customer.
        """
        ...

    def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        """Load a conversation with all its messages, or only its `last` newest ones.

        With `last`, a leading system message is pinned: it comes first even when older.

        Raises ConversationNotFoundError.
        """
        ...

    def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        """Append messages atomically; a message whose id is already stored is skipped.

        Raises ConversationNotFoundError.
        """
        ...

    def update_conversation(
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

    def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        """Remove every message and reset the counters, keeping the conversation.

        Raises ConversationNotFoundError.
        """
        ...

    def list_conversations(
        self,
        *,
        customer_id: str,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
    ) -> Page[ConversationSummary]:
        """The customer's conversations, most recently updated first, without messages.

        `archived`: False lists the active ones, True the archived ones, None both.
        """
        ...

    def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        """Delete a conversation and everything stored for it; succeeds if already gone."""
        ...

    def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` messages of `customer_id` whose content holds every term of `query`
        (`search.search_terms`: case-insensitive word prefixes), best first.

        Archived conversations are searched too; expired ones are not.
        """
        ...

    def replace_message(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        message_id: str,
        message: Message | None,
    ) -> None:
        """Replace the message `message_id` by `message` (same id), or remove it when None.

        Counters (`message_count`, `total_tokens`) follow. Raises ConversationNotFoundError,
        MessageNotFoundError.
        """
        ...

    def delete_customer(self, *, customer_id: str) -> int:
        """Delete every conversation of `customer_id`; returns how many there were."""
        ...

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        """Every conversation of one customer, or of all customers when None, in no order;
        with `updated_before` (a stored timestamp string), only those last updated earlier.

        Archived and expired conversations are included: this is for operators (stats,
        cleanup, export, migration), not for users. Sync stores only.
        """
        ...

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        """Messages per UTC day (`YYYY-MM-DD`, from each message's timestamp) of one customer
        or of all; expired conversations are left out. Sync stores only."""
        ...

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        """Delete what is left of conversations whose head is gone (on Cosmos DB, the segments
        of a conversation whose head the service expired), of one customer or of all; returns
        how many conversations they belonged to. A store whose conversations are one unit
        (SQLite, memory) has none and returns 0. Sync stores only."""
        ...

    def close(self) -> None:
        """Release what the store opened; later calls raise StoreClosedError."""
        ...
