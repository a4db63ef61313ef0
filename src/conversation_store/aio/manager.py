"""The async ConversationManager: the twin of `conversation_store.manager`, same method order.

Only the I/O differs; every decision is taken in `inputs`, `tracking` and `history`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from conversation_store import editing, inputs, sharing
from conversation_store.aio.protocol import ConversationStore
from conversation_store.aio.settings import open_store
from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    StoreClosedError,
)
from conversation_store.export import ExportFormat, parse_import, plan_import, render_export
from conversation_store.history import window
from conversation_store.ids import validate_id
from conversation_store.inputs import ToolCallInput
from conversation_store.manager import HISTORY_FIRST_READ
from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    ImportAction,
    ImportReport,
    Message,
    Page,
    SearchHit,
)
from conversation_store.retention import validate_ttl
from conversation_store.search import search_terms
from conversation_store.settings import Settings
from conversation_store.stores.protocol import HeaderUpdate
from conversation_store.tracking import add_in_memory, header_update, mark_saved, unsaved_messages
from conversation_store.validation import (
    DEFAULT_MAX_CONTENT_BYTES,
    validate_archived_filter,
    validate_continuation,
    validate_limit,
    validate_summary,
    validate_title,
)


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

    async def __aenter__(self) -> ConversationManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the store if this manager opened it. Idempotent."""
        if not self._closed and self._owns_store:
            await self._store.close()
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

    async def save_conversation(self, conversation: Conversation) -> Conversation:
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
                stored = await self._store.create_conversation(conversation)
            except ConflictError:
                # A retry of a create whose first attempt landed: merge instead.
                await self._store.append_messages(
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
            await self._store.update_conversation(**scope, update=update)
        if messages:
            await self._store.append_messages(**scope, messages=messages)
        mark_saved(conversation, None if (update or messages) else saved.etag)
        return conversation

    async def load_conversation(self, conversation_id: str, customer_id: str) -> Conversation:
        """The whole conversation. Raises ConversationNotFoundError, InvalidInputError."""
        return await self._get(conversation_id, customer_id, last=None)

    async def get_recent_conversations(
        self,
        customer_id: str,
        limit: int = 20,
        continuation: str | None = None,
        *,
        archived: bool | None = False,
    ) -> Page[ConversationSummary]:
        """The customer's conversations, most recently updated first, without their messages.

        Pass the returned `continuation` back for the next page. `archived`: False (default)
        lists active conversations, True archived ones, None both. Raises InvalidInputError.
        """
        self._check_open()
        return await self._store.list_conversations(
            customer_id=validate_id(customer_id, "customer id"),
            limit=validate_limit(limit),
            continuation=validate_continuation(continuation),
            archived=validate_archived_filter(archived),
        )

    async def delete_conversation(self, conversation_id: str, customer_id: str) -> None:
        """Delete the conversation; succeeds if it is already gone. Raises InvalidInputError."""
        self._check_open()
        await self._store.delete_conversation(**inputs.scope(conversation_id, customer_id))

    # -- higher-level calls -----------------------------------------------------------------

    async def append_message(
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
        return await self._store.append_messages(**scope, messages=[message])

    async def rename_conversation(self, conversation_id: str, customer_id: str, title: str) -> None:
        """Set the title. Raises InvalidInputError, ConversationNotFoundError."""
        self._check_open()
        update = HeaderUpdate(fields={"title": validate_title(title)})
        await self._store.update_conversation(
            **inputs.scope(conversation_id, customer_id), update=update
        )

    async def clear_conversation(self, conversation_id: str, customer_id: str) -> None:
        """Remove every message but keep the conversation and its metadata.

        Raises InvalidInputError, ConversationNotFoundError.
        """
        self._check_open()
        await self._store.clear_messages(**inputs.scope(conversation_id, customer_id))

    async def get_history(
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
            return (await self.load_conversation(conversation_id, customer_id)).messages
        last = max_messages or HISTORY_FIRST_READ
        while True:
            conversation = await self._get(conversation_id, customer_id, last=last)
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

    async def search_conversations(
        self, customer_id: str, query: str, limit: int = 20
    ) -> list[SearchHit]:
        """Messages of the customer holding every word of `query` (case-insensitive word
        prefixes), best first, each with its conversation and a snippet.

        Raises InvalidInputError (empty or over-long query).
        """
        self._check_open()
        search_terms(query)
        return await self._store.search_messages(
            customer_id=validate_id(customer_id, "customer id"),
            query=query,
            limit=validate_limit(limit),
        )

    async def edit_message(
        self,
        conversation_id: str,
        customer_id: str,
        message_id: str,
        content: str,
        *,
        tokens: int | None = None,
    ) -> Message:
        """Replace a message's content in place; returns the edited message.

        Its id, role, position and tool calls are kept; `metadata["edited_at"]` records when.
        Raises InvalidInputError, ConversationNotFoundError, MessageNotFoundError.
        """
        conversation = await self._get(conversation_id, customer_id, last=None)
        original = editing.find_message(conversation, validate_id(message_id, "message id"))
        edited = editing.edited_message(
            original, content, tokens=tokens, max_content_bytes=self._max_content_bytes
        )
        await self._store.replace_message(
            **inputs.scope(conversation_id, customer_id), message_id=message_id, message=edited
        )
        return edited

    async def delete_message(self, conversation_id: str, customer_id: str, message_id: str) -> None:
        """Remove one message. Raises InvalidInputError, ConversationNotFoundError,
        MessageNotFoundError."""
        self._check_open()
        await self._store.replace_message(
            **inputs.scope(conversation_id, customer_id),
            message_id=validate_id(message_id, "message id"),
            message=None,
        )

    async def fork_conversation(
        self,
        conversation_id: str,
        customer_id: str,
        message_id: str,
        *,
        title: str | None = None,
    ) -> Conversation:
        """A new stored conversation holding the messages up to and including `message_id`.

        The original is unchanged; the fork records where it came from in
        `metadata["forked_from"]`. Raises InvalidInputError, ConversationNotFoundError,
        MessageNotFoundError.
        """
        source = await self._get(conversation_id, customer_id, last=None)
        fork = editing.forked(
            source, validate_id(message_id, "message id"), title=validate_title(title)
        )
        return await self._store.create_conversation(fork)

    async def archive_conversation(
        self, conversation_id: str, customer_id: str, archived: bool = True
    ) -> None:
        """Archive (hide from the default listing) or, with `archived=False`, restore.

        Raises InvalidInputError, ConversationNotFoundError.
        """
        if not isinstance(archived, bool):
            raise InvalidInputError("archived must be True or False")
        await self._update(conversation_id, customer_id, {"archived": archived})

    async def share_conversation(self, conversation_id: str, customer_id: str) -> str:
        """A read-only link token for the conversation; pass it to `open_shared_conversation`.

        Each call makes a new token and revokes the previous one. Raises InvalidInputError,
        ConversationNotFoundError.
        """
        share_id = sharing.new_share_id()
        await self._update(conversation_id, customer_id, {"share_id": share_id})
        return sharing.encode_share_token(customer_id, conversation_id, share_id)

    async def unshare_conversation(self, conversation_id: str, customer_id: str) -> None:
        """Revoke the conversation's share link. Raises ConversationNotFoundError."""
        await self._update(conversation_id, customer_id, {"share_id": None})

    async def open_shared_conversation(self, token: str) -> Conversation:
        """The conversation a share token names, for reading only (it carries no etag and no
        share id). Raises InvalidInputError (damaged token), ConversationNotFoundError (revoked
        link, or the conversation is gone)."""
        customer_id, conversation_id, share_id = sharing.decode_share_token(token)
        conversation = await self._get(conversation_id, customer_id, last=None)
        if not sharing.share_id_matches(conversation.share_id, share_id):
            raise ConversationNotFoundError(conversation_id, customer_id)
        return Conversation.model_validate(
            conversation.model_dump(mode="json", exclude={"share_id"})
        )

    async def set_conversation_ttl(
        self, conversation_id: str, customer_id: str, ttl_seconds: int | None
    ) -> None:
        """Expire the conversation `ttl_seconds` after its last write; None keeps it forever.

        Raises InvalidInputError, ConversationNotFoundError.
        """
        await self._update(conversation_id, customer_id, {"ttl": validate_ttl(ttl_seconds)})

    async def set_summary(
        self, conversation_id: str, customer_id: str, summary: str | None
    ) -> None:
        """Set (or clear) the conversation's short summary. Raises InvalidInputError,
        ConversationNotFoundError."""
        await self._update(conversation_id, customer_id, {"summary": validate_summary(summary)})

    async def export_conversation(
        self, conversation_id: str, customer_id: str, format: ExportFormat = "json"
    ) -> str:
        """The whole conversation as lossless JSON (`import_conversations` reads it back) or
        Markdown. Raises InvalidInputError, ConversationNotFoundError."""
        return render_export([await self.load_conversation(conversation_id, customer_id)], format)

    async def export_customer(self, customer_id: str, format: ExportFormat = "json") -> str:
        """Every conversation of the customer, archived ones too, as one JSON bundle or one
        Markdown document. Raises InvalidInputError."""
        return render_export(
            [c async for c in self.iter_customer_conversations(customer_id)], format
        )

    async def iter_customer_conversations(self, customer_id: str) -> AsyncIterator[Conversation]:
        """Each of the customer's conversations, loaded whole, newest first (one at a time)."""
        continuation: str | None = None
        while True:
            page = await self.get_recent_conversations(
                customer_id, 100, continuation, archived=None
            )
            for summary in page.items:
                try:
                    yield await self.load_conversation(summary.id, customer_id)
                except ConversationNotFoundError:
                    continue  # deleted since it was listed
            if page.continuation is None:
                return
            continuation = page.continuation

    async def import_conversations(
        self, data: str | bytes | dict[str, Any] | list[Any], *, customer_id: str | None = None
    ) -> ImportReport:
        """Store the conversations of an export (a bundle, one document, or a list of them).

        With `customer_id`, a document of any other customer is refused. A conversation
        already stored gets only the messages it lacks; one whose stored messages differ is
        refused (ConflictError), so an import never overwrites anything. Every document is
        validated before the first write. Raises InvalidInputError, ConflictError.
        """
        self._check_open()
        conversations = parse_import(data, customer_id=customer_id)
        report = ImportReport()
        for conversation in conversations:
            report.record(await self._import_one(conversation), conversation.id)
        return report

    async def delete_customer_data(self, customer_id: str) -> int:
        """Delete every conversation of the customer; returns how many. Raises
        InvalidInputError."""
        self._check_open()
        return await self._store.delete_customer(
            customer_id=validate_id(customer_id, "customer id")
        )

    # -- internals --------------------------------------------------------------------------

    async def _import_one(self, conversation: Conversation) -> ImportAction:
        scope = inputs.scope(conversation.id, conversation.customer_id)
        try:
            stored: Conversation | None = await self._store.get_conversation(**scope, last=None)
        except ConversationNotFoundError:
            stored = None
        action, missing = plan_import(conversation, stored)
        if action == "create":
            try:
                await self._store.create_conversation(conversation)
                return action
            except ConflictError:  # created meanwhile: merge into what is there now
                action, missing = plan_import(
                    conversation, await self._store.get_conversation(**scope, last=None)
                )
        if missing:
            await self._store.append_messages(**scope, messages=missing)
        return action

    async def _update(
        self, conversation_id: str, customer_id: str, fields: dict[str, JsonValue]
    ) -> None:
        self._check_open()
        await self._store.update_conversation(
            **inputs.scope(conversation_id, customer_id), update=HeaderUpdate(fields=fields)
        )

    async def _get(
        self, conversation_id: str, customer_id: str, *, last: int | None
    ) -> Conversation:
        self._check_open()
        scope = inputs.scope(conversation_id, customer_id)
        return await self._store.get_conversation(**scope, last=last)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("ConversationManager is closed")
