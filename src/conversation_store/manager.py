"""ConversationManager: the seed's API and the higher-level calls, over any store.

Its async twin is `conversation_store.aio.ConversationManager`, with the same methods in the
same order; both take every decision in `inputs`, `tracking` and `history`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from . import inputs
from .exceptions import ConflictError, StoreClosedError
from .history import window
from .ids import validate_id
from .inputs import ToolCallInput
from .models import AppendResult, Conversation, ConversationSummary, Message, Page
from .settings import Settings, open_store
from .stores.protocol import ConversationStore, HeaderUpdate
from .tracking import add_in_memory, header_update, mark_saved, unsaved_messages
from .validation import (
    DEFAULT_MAX_CONTENT_BYTES,
    validate_continuation,
    validate_limit,
    validate_title,
)

HISTORY_FIRST_READ = 50  # messages read for a history window before reading further back


class ConversationManager:
    """Create, append to, load, list and delete conversations.

    Arguments follow the seed API: `(conversation_id, customer_id)`. Every call names the
    customer, and a conversation of another customer is reported as not found. The manager
    holds no per-conversation state, so one instance may serve every thread of a process.
    """

    def __init__(
        self,
        store: ConversationStore,
        *,
        owns_store: bool = False,
        max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES,
    ) -> None:
        self._store = store
        self._owns_store = owns_store
        self._max_content_bytes = max_content_bytes
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ConversationManager:
        """A manager over the store `settings` name; it closes that store on close()."""
        return cls(open_store(settings), owns_store=True, **kwargs)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ConversationManager:
        """A manager over `sqlite:///path` or `memory://`."""
        return cls.from_settings(Settings(store_url=url), **kwargs)

    @property
    def store(self) -> ConversationStore:
        return self._store

    def __enter__(self) -> ConversationManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store if this manager opened it. Idempotent."""
        if not self._closed and self._owns_store:
            self._store.close()
        self._closed = True

    # -- the seed API -----------------------------------------------------------------------

    def create_conversation_document(
        self,
        customer_id: str,
        session_id: str | None,
        *,
        title: str | None = None,
        persona: str | None = None,
        org_id: str | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
        conversation_id: str | None = None,
    ) -> Conversation:
        """A new conversation in memory; nothing is stored until save_conversation.

        Raises InvalidInputError.
        """
        return inputs.new_conversation(
            customer_id,
            session_id,
            title=title,
            persona=persona,
            org_id=org_id,
            metadata=metadata,
            conversation_id=conversation_id,
        )

    def add_message_to_conversation(
        self,
        conversation: Conversation,
        role: str,
        content: str | None,
        *,
        tokens: int | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
        tool_calls: Sequence[ToolCallInput] | None = None,
        tool_call_id: str | None = None,
        name: str | None = None,
    ) -> Message:
        """Add a message to `conversation` in memory and return it; save_conversation stores it.

        Raises InvalidInputError.
        """
        message = inputs.new_message(
            role,
            content,
            max_content_bytes=self._max_content_bytes,
            tokens=tokens,
            metadata=metadata,
            tool_calls=tool_calls,
            tool_call_id=tool_call_id,
            name=name,
        )
        add_in_memory(conversation, message)
        return message

    def save_conversation(self, conversation: Conversation) -> Conversation:
        """Store what changed since `conversation` was loaded or last saved, and return it.

        New messages are appended (a message already stored is skipped, so a retried save never
        duplicates); changed header fields and metadata keys are patched one by one, so a
        concurrent writer's other changes survive. Raises InvalidInputError,
        ConversationNotFoundError (deleted meanwhile), StoreUnavailableError.
        """
        self._check_open()
        saved = conversation._saved
        if saved is None:
            try:
                stored = self._store.create_conversation(conversation)
            except ConflictError:
                # A retry of a create whose first attempt landed: merge instead.
                self._store.append_messages(
                    customer_id=conversation.customer_id,
                    conversation_id=conversation.id,
                    messages=conversation.messages,
                )
                mark_saved(conversation, None)
                return conversation
            mark_saved(conversation, stored.etag)
            return conversation
        messages = unsaved_messages(conversation, saved)
        update = header_update(conversation, saved)
        scope = inputs.scope(conversation.id, conversation.customer_id)
        if update:
            self._store.update_conversation(**scope, update=update)
        if messages:
            self._store.append_messages(**scope, messages=messages)
        mark_saved(conversation, None if (update or messages) else saved.etag)
        return conversation

    def load_conversation(self, conversation_id: str, customer_id: str) -> Conversation:
        """The whole conversation. Raises ConversationNotFoundError, InvalidInputError."""
        return self._get(conversation_id, customer_id, last=None)

    def get_recent_conversations(
        self, customer_id: str, limit: int = 20, continuation: str | None = None
    ) -> Page[ConversationSummary]:
        """The customer's conversations, most recently updated first, without their messages.

        Pass the returned `continuation` back for the next page. Raises InvalidInputError.
        """
        self._check_open()
        return self._store.list_conversations(
            customer_id=validate_id(customer_id, "customer id"),
            limit=validate_limit(limit),
            continuation=validate_continuation(continuation),
        )

    def delete_conversation(self, conversation_id: str, customer_id: str) -> None:
        """Delete the conversation; succeeds if it is already gone. Raises InvalidInputError."""
        self._check_open()
        self._store.delete_conversation(**inputs.scope(conversation_id, customer_id))

    # -- higher-level calls -----------------------------------------------------------------

    def append_message(
        self,
        conversation_id: str,
        customer_id: str,
        role: str,
        content: str | None,
        *,
        tokens: int | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
        tool_calls: Sequence[ToolCallInput] | None = None,
        tool_call_id: str | None = None,
        name: str | None = None,
        message_id: str | None = None,
    ) -> AppendResult:
        """Store one message in one call. Pass `message_id` to make a retry idempotent.

        Raises InvalidInputError, ConversationNotFoundError, StoreUnavailableError.
        """
        self._check_open()
        scope = inputs.scope(conversation_id, customer_id)
        message = inputs.new_message(
            role,
            content,
            max_content_bytes=self._max_content_bytes,
            tokens=tokens,
            metadata=metadata,
            tool_calls=tool_calls,
            tool_call_id=tool_call_id,
            name=name,
            message_id=message_id,
        )
        return self._store.append_messages(**scope, messages=[message])

    def rename_conversation(self, conversation_id: str, customer_id: str, title: str) -> None:
        """Set the title. Raises InvalidInputError, ConversationNotFoundError."""
        self._check_open()
        update = HeaderUpdate(fields={"title": validate_title(title)})
        self._store.update_conversation(**inputs.scope(conversation_id, customer_id), update=update)

    def clear_conversation(self, conversation_id: str, customer_id: str) -> None:
        """Remove every message but keep the conversation and its metadata.

        Raises InvalidInputError, ConversationNotFoundError.
        """
        self._check_open()
        self._store.clear_messages(**inputs.scope(conversation_id, customer_id))

    def get_history(
        self,
        conversation_id: str,
        customer_id: str,
        *,
        max_messages: int | None = None,
        max_turns: int | None = None,
        max_tokens: int | None = None,
    ) -> list[Message]:
        """The newest messages within every given limit, oldest first (see history.window).

        Reads only as far back as the limits need. Raises InvalidInputError,
        ConversationNotFoundError.
        """
        if not inputs.check_window_limits(max_messages, max_turns, max_tokens):
            return self.load_conversation(conversation_id, customer_id).messages
        last = max_messages or HISTORY_FIRST_READ
        while True:
            conversation = self._get(conversation_id, customer_id, last=last)
            picked = window(
                conversation.messages,
                max_messages=max_messages,
                max_turns=max_turns,
                max_tokens=max_tokens,
            )
            loaded_all = len(conversation.messages) >= conversation.message_count
            if loaded_all or max_messages is not None or len(picked) < len(conversation.messages):
                return picked
            last *= 4

    # -- internals --------------------------------------------------------------------------

    def _get(self, conversation_id: str, customer_id: str, *, last: int | None) -> Conversation:
        self._check_open()
        scope = inputs.scope(conversation_id, customer_id)
        return self._store.get_conversation(**scope, last=last)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("ConversationManager is closed")
