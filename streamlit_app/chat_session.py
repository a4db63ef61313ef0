"""One browser session's chat: the open conversation and the writes of each turn.

Streamlit-free, so the page stays a thin script and this logic tests without a browser.
A new conversation lives only in memory until its first message: the first `record` creates
it in the store with that message, and every later message is one `append_messages` call
storing the validated `Message` as built (its one timestamp, its tool calls and name).
Titles and summaries are not written here: the background `Enricher` writes them (a turn
submits the conversation), and `adopt_header` picks them up from the sidebar's listing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from pydantic import JsonValue

from conversation_store import (
    AppendResult,
    Conversation,
    ConversationManager,
    ConversationStoreError,
    ConversationSummary,
    Enricher,
    Message,
    Page,
    SearchHit,
    ToolCall,
    history_window,
)

from .responders import Responder
from .status import save_status

UNTITLED = "New conversation"
PREVIEW_CHARS = 60  # of the first message, shown as the title until one is written


class TurnView(Protocol):
    """Where a turn shows itself as it happens (the chat page draws it)."""

    def question(self, text: str) -> None:
        """Show the user's message, before it is stored."""

    def saving(self) -> None:
        """A write starts."""

    def saved(self, message: Message, status: str) -> None:
        """`message` is stored; `status` is the save status line to show."""

    def not_saved(self, error: ConversationStoreError) -> None:
        """The write failed; the message was taken back out of the open conversation."""

    def answer(self, pieces: Iterator[str]) -> str:
        """Show the reply as it streams in; return its whole text."""

    def no_answer(self, error: Exception) -> None:
        """The responder failed; the user's message stays stored."""


class TurnServices(Protocol):
    """What a turn looks up, each only when it needs it (the app's `services` module).

    Lazily, so a misconfigured language model fails after the user's message is stored.
    """

    def responder(self) -> Responder: ...

    def history_token_budget(self) -> int: ...

    def enricher(self) -> Enricher | None: ...


class ChatSession:
    """The conversation open in one Streamlit session, for one customer."""

    def __init__(self, manager: ConversationManager, *, customer_id: str, session_id: str) -> None:
        self.manager = manager
        self.customer_id = customer_id
        self.session_id = session_id
        self.conversation = self._new_document()
        self.stored = False
        self.share_token: str | None = None  # the open conversation's link made this session

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    @property
    def title(self) -> str:
        return self.conversation.title or UNTITLED

    @property
    def heading(self) -> str:
        """The title to show: the stored one; until the enricher writes one, the first user
        message's first words, so the header reads right after the first turn."""
        return self.conversation.title or _first_words(self.conversation.messages) or UNTITLED

    @property
    def is_read_only(self) -> bool:
        """An archived conversation takes no new messages and no edits until restored."""
        return self.stored and self.conversation.archived

    @property
    def is_shared(self) -> bool:
        return self.share_token is not None or self.conversation.share_id is not None

    def new_conversation(self) -> None:
        """Start an empty conversation; nothing is stored until its first message."""
        self._show(self._new_document(), stored=False)

    def open(self, conversation_id: str) -> None:
        """Load a stored conversation. Raises ConversationNotFoundError."""
        self._show(self.manager.load_conversation(conversation_id, self.customer_id), stored=True)

    def turn(self, text: str, view: TurnView, services: TurnServices) -> None:
        """One exchange: store the user's message, stream the reply, store it, have the
        conversation enriched. Failures are shown through `view`, never raised."""
        view.question(text)
        if not self._record_shown(view, "user", text):
            return
        try:
            responder = services.responder()
            history = self.history(max_tokens=services.history_token_budget())
            reply = view.answer(responder.stream_reply(history))
        except Exception as exc:  # a model or network failure must not lose the stored question
            view.no_answer(exc)
            return
        metadata: dict[str, JsonValue] = {"model": responder.model} if responder.model else {}
        if reply and self._record_shown(view, "assistant", reply, metadata=metadata):
            enricher = services.enricher()
            if enricher is not None:
                enricher.submit(self.conversation_id, self.customer_id)

    def record(
        self,
        role: str,
        content: str,
        *,
        metadata: Mapping[str, JsonValue] | None = None,
        tool_calls: Sequence[ToolCall] | None = None,
        name: str | None = None,
    ) -> AppendResult:
        """Store one message now (creating the conversation on its first message).

        On failure the message is taken back out of the open conversation and the error is
        raised: InvalidInputError, ConversationNotFoundError, StoreUnavailableError, ….
        """
        message = self.manager.add_message_to_conversation(
            self.conversation, role, content, metadata=metadata, tool_calls=tool_calls, name=name
        )
        try:
            return self._store(message)
        except Exception:
            self._take_back(message)
            raise

    def history(self, *, max_tokens: int) -> list[Message]:
        """The newest messages within a token budget, oldest first, for the language model."""
        if not self.stored:
            return history_window(self.conversation.messages, max_tokens=max_tokens)
        return self.manager.get_history(
            self.conversation_id, self.customer_id, max_tokens=max_tokens
        )

    def recent_conversations(
        self,
        *,
        pages: int,
        page_size: int = 20,
        archived: bool | None = False,
        pinned: bool | None = None,
    ) -> Page[ConversationSummary]:
        """The first `pages` pages of the customer's conversations, newest first, as one page.

        `archived`: False lists the active ones, True the archived ones, None both; `pinned`
        likewise the pinned ones (None: pinned or not).
        """
        items: list[ConversationSummary] = []
        continuation: str | None = None
        for _ in range(max(pages, 1)):
            page = self.manager.get_recent_conversations(
                self.customer_id,
                limit=page_size,
                continuation=continuation,
                archived=archived,
                pinned=pinned,
            )
            items.extend(page.items)
            continuation = page.continuation
            if continuation is None:
                break
        return Page[ConversationSummary](items=items, continuation=continuation)

    def rename(self, conversation_id: str, title: str) -> None:
        """Rename a stored conversation (the open one keeps its new title too)."""
        self.manager.rename_conversation(conversation_id, self.customer_id, title)
        if conversation_id == self.conversation_id:
            self.conversation.title = title.strip()

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation; deleting the open one starts a new one."""
        self.manager.delete_conversation(conversation_id, self.customer_id)
        if conversation_id == self.conversation_id:
            self.new_conversation()

    def archive(self, conversation_id: str, archived: bool = True) -> None:
        """Archive (or restore) a conversation; archiving the open one starts a new one, as
        the open conversation is always one the sidebar lists."""
        self.manager.archive_conversation(conversation_id, self.customer_id, archived)
        if conversation_id == self.conversation_id:
            if archived:
                self.new_conversation()
            else:
                self.conversation.archived = False

    def pin(self, conversation_id: str, pinned: bool = True) -> None:
        """Pin a conversation above the others in the sidebar (or, with False, unpin it)."""
        self.manager.pin_conversation(conversation_id, self.customer_id, pinned)
        if conversation_id == self.conversation_id:
            self.conversation.pinned = pinned

    def search(self, query: str, *, limit: int) -> list[SearchHit]:
        """Messages of this customer matching `query`. Raises InvalidInputError."""
        return self.manager.search_conversations(self.customer_id, query, limit)

    def share(self, *, expires_in: int | None = None) -> str:
        """A new read-only link token for the open conversation, working for `expires_in`
        seconds (None: until revoked); older links stop working."""
        self.share_token = self.manager.share_conversation(
            self.conversation_id, self.customer_id, expires_in=expires_in
        )
        return self.share_token

    def unshare(self) -> None:
        """Revoke the open conversation's read-only link."""
        self.manager.unshare_conversation(self.conversation_id, self.customer_id)
        self.share_token = None
        self.conversation.share_id = None

    def fork(self, message_id: str) -> None:
        """Copy the open conversation up to `message_id` into a new one, and open that."""
        fork = self.manager.fork_conversation(self.conversation_id, self.customer_id, message_id)
        self._show(fork, stored=True)

    def edit_message(self, message_id: str, content: str) -> None:
        """Replace a message's text in the open conversation (replies stay as they are).

        Raises InvalidInputError (e.g. blank), MessageNotFoundError.
        """
        self.manager.edit_message(self.conversation_id, self.customer_id, message_id, content)
        self._reload()

    def delete_message(self, message_id: str) -> None:
        """Remove one message from the open conversation. Raises MessageNotFoundError."""
        self.manager.delete_message(self.conversation_id, self.customer_id, message_id)
        self._reload()

    def adopt_header(self, listed: Sequence[ConversationSummary]) -> None:
        """Take the open conversation's title and summary from a fresh listing, where the
        background enricher's (or another tab's) writes show up without another read."""
        for summary in listed:
            if self.stored and summary.id == self.conversation_id:
                self.conversation.title = summary.title
                self.conversation.summary = summary.summary

    def parked_count(self) -> int | None:
        """Writes the store refused for good after they were accepted (None: no outbox)."""
        return self.manager.parked_count()

    def _save_status(self, result: AppendResult) -> str:
        """The status line after the write that returned `result`."""
        return save_status(
            pending=result.pending,
            pending_count=self.manager.pending_count(),
            just_queued=len(result.message_ids),
        )

    def _record_shown(
        self,
        view: TurnView,
        role: str,
        text: str,
        *,
        metadata: Mapping[str, JsonValue] | None = None,
    ) -> bool:
        """`record`, with its progress and its store error shown; whether it was stored."""
        view.saving()
        try:
            result = self.record(role, text, metadata=metadata)
        except ConversationStoreError as exc:
            view.not_saved(exc)
            return False
        view.saved(self.conversation.messages[-1], self._save_status(result))
        return True

    def _reload(self) -> None:
        # Keeps `share_token`: the conversation changed, its link did not.
        self.conversation = self.manager.load_conversation(self.conversation_id, self.customer_id)

    def _show(self, conversation: Conversation, *, stored: bool) -> None:
        self.conversation = conversation
        self.stored = stored
        self.share_token = None

    def _store(self, message: Message) -> AppendResult:
        if not self.stored:
            self.manager.save_conversation(self.conversation)
            self.stored = True
            return AppendResult(
                conversation_id=self.conversation_id, message_ids=[message.id] if message.id else []
            )
        return self.manager.append_messages(self.conversation_id, self.customer_id, [message])

    def _take_back(self, message: Message) -> None:
        conversation = self.conversation
        conversation.messages.remove(message)
        conversation.message_count -= 1
        conversation.total_tokens -= message.tokens or 0

    def _new_document(self) -> Conversation:
        return self.manager.create_conversation_document(self.customer_id, self.session_id)


def _first_words(messages: Sequence[Message], *, max_chars: int = PREVIEW_CHARS) -> str | None:
    """The first user message's first line, shortened on a word boundary; None if none."""
    for message in messages:
        if message.role == "user" and message.text.strip():
            line = message.text.strip().splitlines()[0].strip()
            if len(line) <= max_chars:
                return line
            cut = line[: max_chars - 1].rsplit(" ", 1)[0] or line[: max_chars - 1]
            return cut.rstrip() + "…"
    return None
