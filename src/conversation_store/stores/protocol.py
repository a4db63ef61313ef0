"""The storage boundary: a handful of methods every backend implements.

All methods are keyword-only and scoped by `customer_id` (the Cosmos partition key), so no
call can reach a conversation without naming its customer. Stores translate their own errors
into `conversation_store.exceptions` and never return "not found" for a fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import JsonValue

from ..models import AppendResult, Conversation, ConversationSummary, Message, Page, SearchHit


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
        self, *, customer_id: str, limit: int, continuation: str | None = None
    ) -> Page[ConversationSummary]:
        """The customer's conversations, most recently updated first, without messages."""
        ...

    def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        """Delete a conversation and everything stored for it; succeeds if already gone."""
        ...

    def close(self) -> None:
        """Release what the store opened; later calls raise StoreClosedError."""
        ...


@runtime_checkable
class SearchableStore(Protocol):
    """A store that can search the text of one customer's messages."""

    def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """Messages of `customer_id` matching `query`, best first.

        Raises InvalidInputError for a query the backend cannot run.
        """
        ...
