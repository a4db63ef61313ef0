"""ChatSession: nothing stored before the first message, then one write per message, each
storing the Message as built; a turn shows itself through a TurnView."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit_app.chat_session import UNTITLED, ChatSession
from streamlit_app.responders import Responder

from conversation_store import (
    AppendResult,
    ConversationKey,
    ConversationManager,
    ConversationNotFoundError,
    ConversationStoreError,
    Enricher,
    FunctionCall,
    InvalidInputError,
    MemoryStore,
    Message,
    MessageNotFoundError,
    ShareLinkNotFoundError,
    SQLiteStore,
    StoreUnavailableError,
    ToolCall,
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
    stored = store.get_conversation(ConversationKey("u1", chat.conversation_id))
    assert stored.title is None  # the background enricher titles it, not the chat
    assert chat.title == UNTITLED
    assert stored.session_id == "s_1"


def test_later_messages_are_appended_with_the_same_ids(
    chat: ChatSession, store: MemoryStore
) -> None:
    chat.record("user", "hi")
    result = chat.record("assistant", "hello", metadata={"model": "m"})
    assert not result.pending
    stored = store.get_conversation(ConversationKey("u1", chat.conversation_id))
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
    assert store.get_conversation(ConversationKey("u1", first)).title == "Renamed"
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

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        if self.fail:
            raise StoreUnavailableError("down")
        return super().append_messages(key, messages)


def test_a_failed_write_is_taken_back_out_of_the_open_conversation() -> None:
    store = FailingStore()
    chat = ChatSession(ConversationManager(store), customer_id="u1", session_id="s")
    chat.record("user", "kept")
    store.fail = True
    with pytest.raises(StoreUnavailableError):
        chat.record("assistant", "lost")
    assert [m.content for m in chat.conversation.messages] == ["kept"]
    assert chat.conversation.message_count == 1


def test_archiving_the_open_conversation_starts_a_new_one(
    chat: ChatSession, store: MemoryStore
) -> None:
    chat.record("user", "old")
    old = chat.conversation_id
    chat.new_conversation()
    chat.record("user", "current")
    current = chat.conversation_id
    chat.archive(old)
    assert chat.conversation_id == current
    chat.archive(current)
    assert not chat.stored and listed(store) == []
    assert [s.id for s in chat.recent_conversations(pages=1, archived=True).items] == [
        current,
        old,
    ]
    chat.archive(old, False)
    assert listed(store) == [old]
    assert len(chat.recent_conversations(pages=1, archived=None).items) == 2


def test_share_then_unshare(chat: ChatSession) -> None:
    chat.record("user", "shared")
    assert not chat.is_shared
    token = chat.share()
    assert chat.is_shared and chat.share_token == token
    shared = chat.manager.open_shared_conversation(token)
    assert [m.content for m in shared.messages] == ["shared"]
    chat.open(chat.conversation_id)  # reloaded: the link is not known, the share is
    assert chat.share_token is None and chat.is_shared
    chat.unshare()
    assert not chat.is_shared
    with pytest.raises(ShareLinkNotFoundError):
        chat.manager.open_shared_conversation(token)


def test_a_link_can_expire_and_a_new_one_replaces_it(chat: ChatSession, store: MemoryStore) -> None:
    chat.record("user", "for a day")
    never = chat.share()
    daily = chat.share(expires_in=86_400)
    assert [m.content for m in chat.manager.open_shared_conversation(daily).messages] == [
        "for a day"
    ]
    link = store.get_share_link(hashlib.sha256(daily.encode()).hexdigest())
    assert link is not None and link.expires_at is not None
    assert link.expires_at - link.created_at == timedelta(days=1)
    with pytest.raises(ShareLinkNotFoundError):
        chat.manager.open_shared_conversation(never)


def test_fork_opens_a_copy_up_to_the_message(chat: ChatSession, store: MemoryStore) -> None:
    for text in ("one", "two", "three"):
        chat.record("user", text)
    original = chat.conversation_id
    chat.fork(str(chat.conversation.messages[1].id))
    assert chat.stored and chat.conversation_id != original
    assert [m.content for m in chat.conversation.messages] == ["one", "two"]
    assert set(listed(store)) == {original, chat.conversation_id}


def test_edit_and_delete_a_message_keep_the_share_link(chat: ChatSession) -> None:
    chat.record("user", "teh")
    chat.record("assistant", "reply")
    token = chat.share()
    first, second = (str(m.id) for m in chat.conversation.messages)
    chat.edit_message(first, "the")
    assert [m.content for m in chat.conversation.messages] == ["the", "reply"]
    chat.delete_message(second)
    assert [m.content for m in chat.conversation.messages] == ["the"]
    assert chat.conversation.message_count == 1 and chat.share_token == token
    with pytest.raises(InvalidInputError):
        chat.edit_message(first, " ")
    with pytest.raises(MessageNotFoundError):
        chat.delete_message(second)


def test_adopt_header_takes_the_open_conversations_title_and_summary(
    chat: ChatSession,
) -> None:
    chat.record("user", "hi")
    chat.manager.rename_conversation(chat.conversation_id, "u1", "Greeting")
    chat.manager.set_summary(chat.conversation_id, "u1", "Someone said hi.")
    other = chat.recent_conversations(pages=1).items
    chat.adopt_header([])
    assert chat.title == UNTITLED
    chat.adopt_header(other)
    assert chat.title == "Greeting" and chat.conversation.summary == "Someone said hi."


def test_search(chat: ChatSession) -> None:
    chat.record("user", "Where do pandas live?")
    [hit] = chat.search("panda", limit=5)
    assert hit.conversation_id == chat.conversation_id


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_stored_message_is_the_message_the_session_built(backend: str, tmp_path: Path) -> None:
    store = MemoryStore() if backend == "memory" else SQLiteStore(tmp_path / "chat.db")
    chat = ChatSession(ConversationManager(store), customer_id="u1", session_id="s")
    call = ToolCall(id="call_1", function=FunctionCall(name="weather", arguments='{"at": "Oslo"}'))
    chat.record("user", "Weather in Oslo?", name="ada")  # creates the conversation
    chat.record("assistant", "Let me look.", tool_calls=[call], name="planner")  # appends
    stored = store.get_conversation(ConversationKey("u1", chat.conversation_id))
    assert stored.messages == chat.conversation.messages  # ids, timestamps, tool calls, names
    assert stored.messages[1].tool_calls == [call] and stored.messages[1].name == "planner"
    store.close()


class RecordingView:
    """A TurnView that writes down what the page would show."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def question(self, text: str) -> None:
        self.shown.append(f"question: {text}")

    def saving(self) -> None:
        self.shown.append("saving")

    def saved(self, message: Message, status: str) -> None:
        self.shown.append(f"saved {message.role}: {status}")

    def not_saved(self, error: ConversationStoreError) -> None:
        self.shown.append(f"not saved: {error}")

    def answer(self, pieces: Iterator[str]) -> str:
        reply = "".join(pieces)
        self.shown.append(f"answer: {reply}")
        return reply

    def no_answer(self, error: Exception) -> None:
        self.shown.append(f"no answer: {error}")


@dataclass
class Services:
    """What a turn looks up: a scripted responder and, when given, an enricher."""

    answering: Responder
    enriching: Enricher | None = None

    def responder(self) -> Responder:
        return self.answering

    def history_token_budget(self) -> int:
        return 1000

    def enricher(self) -> Enricher | None:
        return self.enriching


class EchoResponder:
    model = "echo"

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        yield "You said: "
        yield str(history[-1].content)


class BrokenResponder:
    model = None

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        raise ConnectionError("model unreachable")


def test_a_turn_stores_both_messages_and_submits_enrichment(
    chat: ChatSession, store: MemoryStore
) -> None:
    view = RecordingView()
    with Enricher(chat.manager) as enricher:
        chat.turn("hi", view, Services(EchoResponder(), enricher))
        assert enricher.wait_idle(10)
    assert view.shown == [
        "question: hi",
        "saving",
        "saved user: Saved",
        "answer: You said: hi",
        "saving",
        "saved assistant: Saved",
    ]
    stored = store.get_conversation(ConversationKey("u1", chat.conversation_id))
    assert [(m.role, m.content) for m in stored.messages] == [
        ("user", "hi"),
        ("assistant", "You said: hi"),
    ]
    assert stored.messages[1].metadata == {"model": "echo"}
    assert stored.title == "hi"  # the enricher's job ran


def test_a_failing_model_keeps_the_question(chat: ChatSession) -> None:
    view = RecordingView()
    chat.turn("are you there?", view, Services(BrokenResponder()))
    assert view.shown[-1] == "no answer: model unreachable"
    assert [m.content for m in chat.conversation.messages] == ["are you there?"]
    assert chat.stored


def test_a_failed_write_ends_the_turn() -> None:
    store = FailingStore()
    chat = ChatSession(ConversationManager(store), customer_id="u1", session_id="s")
    chat.record("user", "first")
    store.fail = True
    view = RecordingView()
    chat.turn("lost", view, Services(EchoResponder()))
    assert view.shown == ["question: lost", "saving", "not saved: down"]
    assert [m.content for m in chat.conversation.messages] == ["first"]
