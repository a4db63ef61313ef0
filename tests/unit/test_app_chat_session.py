"""ChatSession: nothing stored before the first message, then one write per message."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from streamlit_app.chat_session import ChatSession, derive_title

from conversation_store import (
    AppendResult,
    ConversationManager,
    ConversationNotFoundError,
    MemoryStore,
    Message,
    StoreUnavailableError,
)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def chat(store: MemoryStore) -> ChatSession:
    return ChatSession(ConversationManager(store), customer_id="u1", session_id="s_1")


def listed(store: MemoryStore) -> list[str]:
    return [s.id for s in store.list_conversations(customer_id="u1", limit=50).items]


def test_a_new_conversation_is_not_stored_until_its_first_message(
    chat: ChatSession, store: MemoryStore
) -> None:
    assert listed(store) == []
    chat.new_conversation()
    assert listed(store) == []
    chat.record("user", "Plan a trip to Tokyo in spring")
    assert listed(store) == [chat.conversation_id]
    stored = store.get_conversation(customer_id="u1", conversation_id=chat.conversation_id)
    assert stored.title == "Plan a trip to Tokyo in spring"
    assert stored.session_id == "s_1"


def test_later_messages_are_appended_with_the_same_ids(
    chat: ChatSession, store: MemoryStore
) -> None:
    chat.record("user", "hi")
    result = chat.record("assistant", "hello", metadata={"model": "m"})
    assert not result.pending
    stored = store.get_conversation(customer_id="u1", conversation_id=chat.conversation_id)
    assert [m.id for m in stored.messages] == [m.id for m in chat.conversation.messages]
    assert stored.messages[1].metadata == {"model": "m"}
    assert stored.total_tokens == chat.conversation.total_tokens > 0


def test_open_rename_delete(chat: ChatSession, store: MemoryStore) -> None:
    chat.record("user", "first")
    first = chat.conversation_id
    chat.new_conversation()
    chat.record("user", "second")
    chat.open(first)
    assert [m.content for m in chat.conversation.messages] == ["first"]
    chat.rename(first, "  Renamed ")
    assert chat.conversation.title == "Renamed"
    assert store.get_conversation(customer_id="u1", conversation_id=first).title == "Renamed"
    chat.delete(first)
    assert chat.conversation_id != first and not chat.stored
    assert len(listed(store)) == 1
    with pytest.raises(ConversationNotFoundError):
        chat.open(first)


def test_history_is_a_token_window(chat: ChatSession) -> None:
    for number in range(10):
        chat.record("user", f"message number {number} " + "x" * 40)
    window = chat.history(max_tokens=60)
    assert 0 < len(window) < 10
    assert window[-1].content == chat.conversation.messages[-1].content


def test_recent_conversations_follows_continuations(chat: ChatSession) -> None:
    for number in range(5):
        chat.new_conversation()
        chat.record("user", f"c{number}")
    assert len(chat.recent_conversations(pages=1, page_size=2).items) == 2
    page = chat.recent_conversations(pages=2, page_size=2)
    assert len(page.items) == 4 and page.continuation is not None
    page = chat.recent_conversations(pages=3, page_size=2)
    assert len(page.items) == 5 and page.continuation is None


class FailingStore(MemoryStore):
    fail = False

    def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        if self.fail:
            raise StoreUnavailableError("down")
        return super().append_messages(
            customer_id=customer_id, conversation_id=conversation_id, messages=messages
        )


def test_a_failed_write_is_taken_back_out_of_the_open_conversation() -> None:
    store = FailingStore()
    chat = ChatSession(ConversationManager(store), customer_id="u1", session_id="s")
    chat.record("user", "kept")
    store.fail = True
    with pytest.raises(StoreUnavailableError):
        chat.record("assistant", "lost")
    assert [m.content for m in chat.conversation.messages] == ["kept"]
    assert chat.conversation.message_count == 1


def test_derive_title() -> None:
    assert derive_title("  hello\n world ") == "hello world"
    assert derive_title("") == "New conversation"
    long = derive_title("word " * 30, max_chars=20)
    assert long.endswith("…") and len(long) <= 20 and "wor…" not in long
