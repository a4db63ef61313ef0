"""One browser session's chat: the open conversation and the writes of each turn.

Streamlit-free, so the page stays a thin script and this logic tests without a browser.
A new conversation lives only in memory until its first message: the first `record` creates
it in the store with that message, and every later message is one `append_message` call.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from conversation_store import (
    AppendResult,
    Conversation,
    ConversationManager,
    ConversationSummary,
    Message,
    Page,
)
from conversation_store.history import window

MAX_TITLE_CHARS = 60


def derive_title(first_message: str, *, max_chars: int = MAX_TITLE_CHARS) -> str:
    """A title from the first message: its first line, shortened on a word boundary."""
    line = " ".join(first_message.split())
    if len(line) <= max_chars:
        return line or "New conversation"
    cut = line[: max_chars - 1].rsplit(" ", 1)[0] or line[: max_chars - 1]
    return cut + "…"


class ChatSession:
    """The conversation open in one Streamlit session, for one customer."""

    def __init__(self, manager: ConversationManager, *, customer_id: str, session_id: str) -> None:
        self.manager = manager
        self.customer_id = customer_id
        self.session_id = session_id
        self.conversation = self._new_document()
        self.stored = False

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    def new_conversation(self) -> None:
        """Start an empty conversation; nothing is stored until its first message."""
        self.conversation = self._new_document()
        self.stored = False

    def open(self, conversation_id: str) -> None:
        """Load a stored conversation. Raises ConversationNotFoundError."""
        self.conversation = self.manager.load_conversation(conversation_id, self.customer_id)
        self.stored = True

    def record(
        self, role: str, content: str, *, metadata: Mapping[str, JsonValue] | None = None
    ) -> AppendResult:
        """Store one message now (creating the conversation on its first message).

        On failure the message is taken back out of the open conversation and the error is
        raised: InvalidInputError, ConversationNotFoundError, StoreUnavailableError, ….
        """
        message = self.manager.add_message_to_conversation(
            self.conversation, role, content, metadata=metadata
        )
        try:
            return self._store(message)
        except Exception:
            self._take_back(message)
            raise

    def history(self, *, max_tokens: int) -> list[Message]:
        """The newest messages within a token budget, oldest first, for the language model."""
        if not self.stored:
            return window(self.conversation.messages, max_tokens=max_tokens)
        return self.manager.get_history(self.conversation_id, self.customer_id,
                                        max_tokens=max_tokens)

    def recent_conversations(self, *, pages: int, page_size: int = 20) -> Page[ConversationSummary]:
        """The first `pages` pages of the customer's conversations, newest first, as one page."""
        items: list[ConversationSummary] = []
        continuation: str | None = None
        for _ in range(max(pages, 1)):
            page = self.manager.get_recent_conversations(self.customer_id, limit=page_size,
                                                         continuation=continuation)
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

    def _store(self, message: Message) -> AppendResult:
        if not self.stored:
            if self.conversation.title is None and message.content:
                self.conversation.title = derive_title(message.content)
            self.manager.save_conversation(self.conversation)
            self.stored = True
            return AppendResult(conversation_id=self.conversation_id,
                                message_ids=[message.id] if message.id else [])
        return self.manager.append_message(
            self.conversation_id, self.customer_id, message.role, message.content,
            tokens=message.tokens, metadata=message.metadata, message_id=message.id,
        )

    def _take_back(self, message: Message) -> None:
        conversation = self.conversation
        conversation.messages.remove(message)
        conversation.message_count -= 1
        conversation.total_tokens -= message.tokens or 0

    def _new_document(self) -> Conversation:
        return self.manager.create_conversation_document(self.customer_id, self.session_id)
