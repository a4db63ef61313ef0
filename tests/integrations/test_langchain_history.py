"""The LangChain chat history over the store, driven by a real `RunnableWithMessageHistory`.

The model is LangChain's own `FakeMessagesListChatModel` (no network). The same run goes through
LangChain's own `InMemoryChatMessageHistory`, and both must hold the same messages (equal
`message_to_dict`) and feed the model the same history on every turn. Sync calls (`invoke`)
run over the sync manager, async ones (`ainvoke`) over the aio manager, each over a SQLite file
and the local Cosmos server, where every history call's HTTP requests are counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from azure.core.pipeline.transport import AioHttpTransport
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.chat_history import BaseChatMessageHistory, InMemoryChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from conversation_store import (
    ConversationManager,
    InvalidInputError,
    MemoryStore,
    Message,
    SQLiteStore,
    UnsupportedOperationError,
    aio,
    as_chat_messages,
)
from conversation_store.integrations.langchain import ConversationStoreChatMessageHistory
from conversation_store.models import ImagePart
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS, CosmosTarget, open_cosmos_store
from support.transport import RecordingTransport

# RunnableWithMessageHistory and the chat history classes are deprecated since langchain-core
# 1.6.4 (removal in 2.0); they are what this integration implements.
pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.deprecation.LangChainDeprecationWarning"
)

CUSTOMER = "user_123"
SESSION_ID = "tenant/a b/chat?#1 東京"  # characters a store id may not hold: never hashed
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
POP = "pop"  # a turn that removes the last message instead of calling the chain

RESPONSES: list[BaseMessage] = [
    AIMessage(
        id="ai-1",
        content="",
        tool_calls=[{"name": "get_weather", "args": {"city": "Tokyo"}, "id": "call_1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
    ),
    AIMessage(id="ai-2", content="It is 21 °C in Tokyo.", response_metadata={"model": "fake"}),
    AIMessage(id="ai-3", content="A stormy sky."),  # popped, then answered again
    AIMessage(id="ai-4", content=[{"type": "text", "text": "A clear sky: no rain today."}]),
]
TURNS: list[list[BaseMessage] | str] = [
    [SystemMessage("You are a weather assistant."), HumanMessage("Weather in Tokyo?", id="h-1")],
    [ToolMessage('{"temp": 21}', tool_call_id="call_1", name="get_weather")],
    [
        HumanMessage(
            content=[
                {"type": "text", "text": "And this sky?"},
                {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            ]
        )
    ],
    POP,
    [HumanMessage("Will it rain?", additional_kwargs={"lang": "en"})],
]
STORED_ROLES = ["system", "user", "assistant", "tool", "assistant", "user", "user", "assistant"]


def dicts(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return [message_to_dict(m) for m in messages]


# -- the chain ---------------------------------------------------------------------------------


@dataclass
class Chat:
    """A chain of a recorder and LangChain's fake model, behind RunnableWithMessageHistory."""

    get_history: Callable[[str], BaseChatMessageHistory]

    def __post_init__(self) -> None:
        self.seen: list[list[dict[str, Any]]] = []  # what the model was given, per turn
        self.popped: list[dict[str, Any]] = []
        record = RunnableLambda(self._record)
        model = FakeMessagesListChatModel(responses=RESPONSES)
        self.chain = RunnableWithMessageHistory(record | model, self.get_history)
        self.config: RunnableConfig = {"configurable": {"session_id": SESSION_ID}}

    def _record(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        self.seen.append(dicts(messages))
        return messages

    def play(self) -> None:
        for turn in TURNS:
            if turn == POP:
                self.popped += dicts(pop_last(self.get_history(SESSION_ID)))
            else:
                self.chain.invoke(turn, config=self.config)

    async def aplay(self) -> None:
        for turn in TURNS:
            if turn == POP:
                self.popped += dicts(await apop_last(self.get_history(SESSION_ID)))
            else:
                await self.chain.ainvoke(turn, config=self.config)


def prompt_chain(get_history: Callable[[str], BaseChatMessageHistory]) -> Any:
    """A prompt with the history in a placeholder: LangChain then reads `messages` once."""
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), MessagesPlaceholder("input")]
    )
    model = FakeMessagesListChatModel(responses=RESPONSES)
    return RunnableWithMessageHistory(
        prompt | model, get_history, input_messages_key="input", history_messages_key="history"
    )


def pop_last(history: BaseChatMessageHistory) -> list[BaseMessage]:
    if isinstance(history, ConversationStoreChatMessageHistory):
        return history.pop_last()
    assert isinstance(history, InMemoryChatMessageHistory)
    return [history.messages.pop()]


async def apop_last(history: BaseChatMessageHistory) -> list[BaseMessage]:
    if isinstance(history, ConversationStoreChatMessageHistory):
        return await history.apop_last()
    return pop_last(history)


def reference_run() -> Chat:
    """The same run over LangChain's own in-memory history."""
    histories: dict[str, InMemoryChatMessageHistory] = {}
    chat = Chat(lambda session_id: histories.setdefault(session_id, InMemoryChatMessageHistory()))
    chat.play()
    return chat


# -- backends ----------------------------------------------------------------------------------


def container_requests(urls: list[str]) -> int:
    """The item requests (`/docs`): the SDK also refreshes the account (`GET /`) and the
    partition key ranges (`/pkranges`) on its own timer, whatever the call."""
    return sum("/docs" in url for url in urls)


class CountingAioTransport(AioHttpTransport):
    """The SDK's own aiohttp transport, keeping the URL of every request it sends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls: list[str] = []

    async def send(self, request: Any, **config: Any) -> Any:
        self.urls.append(request.url)
        return await super().send(request, **config)


@dataclass
class SyncBackend:
    manager: ConversationManager
    transport: RecordingTransport | None = None

    def history(self, session_id: str = SESSION_ID) -> ConversationStoreChatMessageHistory:
        return ConversationStoreChatMessageHistory(
            session_id, customer_id=CUSTOMER, manager=self.manager
        )

    def requests(self) -> int:
        return container_requests([r.url for r in self.transport.records] if self.transport else [])


@dataclass
class AsyncBackend:
    manager: aio.ConversationManager
    transport: CountingAioTransport | None = None

    def history(self, session_id: str = SESSION_ID) -> ConversationStoreChatMessageHistory:
        return ConversationStoreChatMessageHistory(
            session_id, customer_id=CUSTOMER, async_manager=self.manager
        )

    def requests(self) -> int:
        return container_requests(self.transport.urls if self.transport else [])


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def sync_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncBackend]:
    if request.param == "sqlite":
        with ConversationManager(SQLiteStore(tmp_path / "c.db"), owns_store=True) as manager:
            yield SyncBackend(manager)
        return
    target, container = request.getfixturevalue("cosmos_container")
    transport = RecordingTransport(connection_verify=target.verify_tls)
    store = open_cosmos_store(target, container, transport=transport)
    with ConversationManager(store, owns_store=True) as manager:
        yield SyncBackend(manager, transport)
    transport.close()


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
async def async_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncBackend]:
    if request.param == "sqlite":
        store = aio.SQLiteStore(tmp_path / "c.db")
        async with aio.ConversationManager(store, owns_store=True) as manager:
            yield AsyncBackend(manager)
        return
    target: CosmosTarget
    target, container = request.getfixturevalue("cosmos_container")
    transport = CountingAioTransport(connection_verify=target.verify_tls)
    cosmos = aio.CosmosStore.from_endpoint(
        target.endpoint, credential=target.key, database=TEST_DATABASE, container=container,
        connection_verify=target.verify_tls, transport=transport, limits=TEST_LIMITS,
    )  # fmt: skip
    async with aio.ConversationManager(cosmos, owns_store=True) as manager:
        yield AsyncBackend(manager, transport)
    await transport.close()


# -- the run -----------------------------------------------------------------------------------


def assert_same_as_reference(ours: Chat, theirs: Chat, history: BaseChatMessageHistory) -> None:
    assert ours.seen == theirs.seen  # the model saw the same history on every turn
    assert ours.popped == theirs.popped == [message_to_dict(RESPONSES[2])]
    assert dicts(history.messages) == dicts(theirs.get_history(SESSION_ID).messages)


def test_invoke_stores_what_langchains_in_memory_history_holds(sync_backend: SyncBackend) -> None:
    ours = Chat(lambda session_id: sync_backend.history(session_id))
    ours.play()
    assert_same_as_reference(ours, reference_run(), sync_backend.history())


async def test_ainvoke_stores_what_langchains_in_memory_history_holds(
    async_backend: AsyncBackend,
) -> None:
    ours = Chat(lambda session_id: async_backend.history(session_id))
    await ours.aplay()
    theirs = reference_run()
    assert ours.seen == theirs.seen
    assert ours.popped == theirs.popped
    stored = await async_backend.history().aget_messages()
    assert dicts(stored) == dicts(theirs.get_history(SESSION_ID).messages)


def test_the_stored_conversation_reads_as_chat(sync_backend: SyncBackend) -> None:
    Chat(lambda session_id: sync_backend.history(session_id)).play()
    conversation = sync_backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    messages = conversation.messages
    assert [m.role for m in messages] == STORED_ROLES
    assert conversation.external_id == SESSION_ID and conversation.message_count == 8
    call = messages[2].tool_calls[0] if messages[2].tool_calls else None
    assert call is not None and (call.id, call.function.name) == ("call_1", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Tokyo"}
    assert (messages[3].tool_call_id, messages[3].name, messages[3].content) == (
        "call_1",
        "get_weather",
        '{"temp": 21}',
    )
    parts = messages[5].content
    assert isinstance(parts, list) and isinstance(parts[1], ImagePart)
    assert (parts[1].image_url.url, parts[1].image_url.detail) == (PNG, "low")
    answer = {"role": "assistant", "content": "It is 21 °C in Tokyo."}
    assert as_chat_messages(messages)[4] == answer
    read = sync_backend.history().messages
    assert [m.raw for m in messages] == json.loads(json.dumps(dicts(read)))


def test_clear_empties_the_session_and_the_next_add_reuses_it(sync_backend: SyncBackend) -> None:
    history = sync_backend.history()
    assert history.messages == [] and history.pop_last() == []
    history.clear()  # nothing to clear: no conversation is created
    history.add_messages([HumanMessage("one"), AIMessage("two")])
    conversation_id = sync_backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID).id
    history.clear()
    assert history.messages == []
    fresh = sync_backend.history()
    fresh.add_message(HumanMessage("three"))
    found = sync_backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    assert (found.id, [m.text for m in found.messages]) == (conversation_id, ["three"])


async def test_async_clear_and_pop(async_backend: AsyncBackend) -> None:
    history = async_backend.history()
    assert await history.aget_messages() == [] and await history.apop_last() == []
    await history.aadd_messages([HumanMessage("a"), AIMessage("b"), HumanMessage("c")])
    assert dicts(await async_backend.history().apop_last(2)) == dicts(
        [AIMessage("b"), HumanMessage("c")]
    )
    await async_backend.history().aclear()
    assert await history.aget_messages() == []


def test_two_first_adds_racing_share_one_conversation(
    sync_backend: SyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = sync_backend.history(), sync_backend.history()
    real_find, lookups = second._find, []

    def stale_then_real(manager: ConversationManager) -> str | None:
        lookups.append(manager)  # the first lookup ran before `first` created the conversation
        return None if len(lookups) == 1 else real_find(manager)

    monkeypatch.setattr(second, "_find", stale_then_real)
    first.add_messages([HumanMessage("from first")])
    second.add_messages([HumanMessage("from second")])
    assert len(lookups) == 2  # the create lost, found the winner's conversation, appended
    assert [m.content for m in sync_backend.history().messages] == ["from first", "from second"]
    assert len(sync_backend.manager.get_recent_conversations(CUSTOMER).items) == 1


def test_sessions_are_kept_apart(sync_backend: SyncBackend) -> None:
    sync_backend.history("a/1").add_messages([HumanMessage("for a")])
    sync_backend.history("a/2").add_messages([HumanMessage("for b")])
    other = ConversationStoreChatMessageHistory(
        "a/1", customer_id="someone_else", manager=sync_backend.manager
    )
    assert [m.content for m in sync_backend.history("a/1").messages] == ["for a"]
    assert other.messages == []


def test_messages_another_writer_stored_read_as_langchain_messages() -> None:
    manager = ConversationManager(MemoryStore())
    image = {"type": "image_url", "image_url": {"url": PNG}}
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
    ]
    written = [
        Message(id="m1", role="system", content="Be brief."),
        Message(id="m2", role="user", content=[{"type": "text", "text": "Hi"}, image]),
        Message(id="m3", role="assistant", content=None, tool_calls=calls),
        Message(id="m4", role="tool", content="42", tool_call_id="call_1"),
        Message(id="r1", role="assistant", kind="reasoning", raw={"type": "reasoning"}),
        Message(id="m5", role="developer", content="Use metric units."),
    ]
    manager.append_messages(
        "c_app", CUSTOMER, written, create_if_missing=True, external_id="app/session"
    )
    history = memory_history("app/session", manager)
    read = history.messages
    assert [type(m).__name__ for m in read] == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "ChatMessage",  # no LangChain class has the developer role
    ]
    assert read[1].content == [{"type": "text", "text": "Hi"}, image]
    assert isinstance(read[2], AIMessage) and read[2].tool_calls == [
        {"name": "f", "args": {"a": 1}, "id": "call_1", "type": "tool_call"}
    ]
    assert [(c["id"], c["args"]) for c in read[2].invalid_tool_calls] == [("call_2", "not json")]
    assert isinstance(read[3], ToolMessage) and read[3].tool_call_id == "call_1"
    history.add_messages([AIMessage("ok")])
    stored = manager.load_conversation("c_app", CUSTOMER).messages
    assert [m.id for m in stored[:-1]] == ["m1", "m2", "m3", "m4", "r1", "m5"]


def test_without_langchain_the_import_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "import conversation_store.integrations.langchain"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "ImportError: conversation_store.integrations.langchain needs langchain-core" in (
        result.stderr
    )
    assert "pip install 'conversation-store[langchain]'" in result.stderr


# -- Cosmos requests per call ------------------------------------------------------------------


# Container requests of each history call (the SDK's own account refreshes left out). A chain
# turn reads `messages` twice (RunnableWithMessageHistory's enter and exit), the second time
# with the conversation id known; a history object made per turn looks the session up first.
REQUESTS_PER_CALL = {
    "messages, no conversation yet": 1,  # the lookup query
    "add_messages, first (creates)": 2,  # the lookup query, one batch: head + external id
    "add_messages, known conversation": 1,  # one patch
    "messages, known conversation": 1,  # one read of the head
    "messages, new history object": 2,  # the lookup query, the head
    "add_messages, new history object": 3,  # the lookup query, the head, one patch
    "pop_last, known conversation": 2,  # the head, one ETag-checked write
    "one chain turn (invoke)": 4,  # messages (2), messages (1), add_messages (1)
    "one turn with history_messages_key": 3,  # messages (2), add_messages (1)
    "clear, known conversation": 2,
}


@pytest.fixture
def cosmos_sync_backend(cosmos_container: tuple[CosmosTarget, str]) -> Iterator[SyncBackend]:
    target, container = cosmos_container
    transport = RecordingTransport(connection_verify=target.verify_tls)
    store = open_cosmos_store(target, container, transport=transport)
    with ConversationManager(store, owns_store=True) as manager:
        yield SyncBackend(manager, transport)
    transport.close()


@pytest.mark.cosmos
def test_requests_per_history_call_on_cosmos(cosmos_sync_backend: SyncBackend) -> None:
    backend = cosmos_sync_backend
    assert backend.history("warm-up").messages == []  # the client reads the account once

    def requests(call: Callable[[], object]) -> int:
        before = backend.requests()
        call()
        return backend.requests() - before

    history, fresh, other = backend.history(), backend.history(), backend.history()
    chat = Chat(lambda session_id: backend.history(session_id))
    counts = {
        "messages, no conversation yet": requests(lambda: history.messages),
        "add_messages, first (creates)": requests(
            lambda: history.add_messages([HumanMessage("hi"), AIMessage("hello")])
        ),
        "add_messages, known conversation": requests(
            lambda: history.add_messages([HumanMessage("more")])
        ),
        "messages, known conversation": requests(lambda: history.messages),
        "messages, new history object": requests(lambda: fresh.messages),
        "add_messages, new history object": requests(
            lambda: other.add_messages([AIMessage("again")])
        ),
        "pop_last, known conversation": requests(history.pop_last),
        "one chain turn (invoke)": requests(
            lambda: chat.chain.invoke([HumanMessage("and now?")], config=chat.config)
        ),
        "one turn with history_messages_key": requests(
            lambda: prompt_chain(backend.history).invoke(
                {"input": [HumanMessage("and then?")]}, config=chat.config
            )
        ),
        "clear, known conversation": requests(history.clear),
    }
    print(json.dumps(counts, indent=1))
    assert counts == REQUESTS_PER_CALL


@pytest.mark.cosmos
@pytest.mark.parametrize("async_backend", ["cosmos"], indirect=True)
async def test_async_requests_per_history_call_on_cosmos(async_backend: AsyncBackend) -> None:
    backend = async_backend
    assert await backend.history("warm-up").aget_messages() == []

    async def requests(call: Awaitable[object]) -> int:
        before = backend.requests()
        await call
        return backend.requests() - before

    history, fresh, other = backend.history(), backend.history(), backend.history()
    chat = Chat(lambda session_id: backend.history(session_id))
    counts = {
        "messages, no conversation yet": await requests(history.aget_messages()),
        "add_messages, first (creates)": await requests(
            history.aadd_messages([HumanMessage("hi"), AIMessage("hello")])
        ),
        "add_messages, known conversation": await requests(
            history.aadd_messages([HumanMessage("more")])
        ),
        "messages, known conversation": await requests(history.aget_messages()),
        "messages, new history object": await requests(fresh.aget_messages()),
        "add_messages, new history object": await requests(
            other.aadd_messages([AIMessage("again")])
        ),
        "pop_last, known conversation": await requests(history.apop_last()),
        "one chain turn (invoke)": await requests(
            chat.chain.ainvoke([HumanMessage("and now?")], config=chat.config)
        ),
        "one turn with history_messages_key": await requests(
            prompt_chain(backend.history).ainvoke(
                {"input": [HumanMessage("and then?")]}, config=chat.config
            )
        ),
        "clear, known conversation": await requests(history.aclear()),
    }
    assert counts == REQUESTS_PER_CALL


# -- unhappy paths -----------------------------------------------------------------------------


def memory_history(
    session_id: str = SESSION_ID, manager: ConversationManager | None = None
) -> ConversationStoreChatMessageHistory:
    return ConversationStoreChatMessageHistory(
        session_id, customer_id=CUSTOMER, manager=manager or ConversationManager(MemoryStore())
    )


@pytest.mark.parametrize(
    "bad",
    [
        RemoveMessage(id="ai-1"),  # LangGraph's removal marker is not a message to store
        HumanMessage(""),  # our chat model refuses a user message with no content
        AIMessage("x", additional_kwargs={"n": 2**60}),  # beyond JSON's exact integers
        AIMessage("x", additional_kwargs={"n": float("nan")}),
        HumanMessage("x", additional_kwargs={"blob": b"\x00"}),  # not JSON at all
        HumanMessage([{"type": "input_text", "text": "Responses API"}]),  # no part we know
    ],
    ids=["remove", "blank", "big-int", "nan", "bytes", "unknown-part"],
)
def test_a_message_the_store_cannot_hold_is_refused_and_nothing_is_written(
    bad: BaseMessage,
) -> None:
    history = memory_history()
    history.add_messages([HumanMessage("kept")])
    with pytest.raises(InvalidInputError):
        history.add_messages([HumanMessage("valid, but in a refused batch"), bad])
    assert dicts(history.messages) == dicts([HumanMessage("kept")])


@pytest.mark.parametrize("session_id", ["", "a\x00b", "x" * 100_000])
def test_a_bad_session_id_is_refused(session_id: str) -> None:
    with pytest.raises(InvalidInputError):
        memory_history(session_id)


def test_a_history_needs_a_manager_and_a_sync_call_a_sync_one() -> None:
    with pytest.raises(InvalidInputError):
        ConversationStoreChatMessageHistory(SESSION_ID, customer_id=CUSTOMER)
    only_async = ConversationStoreChatMessageHistory(
        SESSION_ID, customer_id=CUSTOMER, async_manager=aio.ConversationManager(aio.MemoryStore())
    )
    with pytest.raises(UnsupportedOperationError):
        only_async.add_messages([HumanMessage("hi")])
    with pytest.raises(UnsupportedOperationError):
        only_async.messages  # noqa: B018


async def test_async_calls_without_an_async_manager_use_the_sync_one() -> None:
    history = memory_history()
    await history.aadd_messages([HumanMessage("hi"), AIMessage("hello")])
    assert dicts(await history.apop_last()) == dicts([AIMessage("hello")])
    assert dicts(await history.aget_messages()) == dicts([HumanMessage("hi")])
    await history.aclear()
    assert history.messages == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
texts = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and "\x00" not in s)
tool_call = st.fixed_dictionaries(
    {
        "name": texts,
        "args": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        "id": st.text(alphabet="abc123_", min_size=1, max_size=8),
    }
)
tool_calls = st.lists(tool_call, max_size=2)
message_strategy = st.one_of(
    st.builds(HumanMessage, content=texts, additional_kwargs=st.dictionaries(texts, json_values)),
    st.builds(SystemMessage, content=texts),
    st.builds(AIMessage, content=texts, tool_calls=tool_calls, id=st.none() | texts),
    st.builds(
        AIMessage, content=st.just(""), tool_calls=st.lists(tool_call, min_size=1, max_size=2)
    ),
    st.builds(ToolMessage, content=st.just("") | texts, tool_call_id=texts),
    st.builds(
        HumanMessage,
        content=st.lists(
            texts.map(lambda t: {"type": "text", "text": t})
            | st.just({"type": "image_url", "image_url": {"url": PNG}})
            | st.just({"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}),
            min_size=1,
            max_size=3,
        ),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    session_id=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    batches=st.lists(st.lists(message_strategy, min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_any_session_reads_back_exactly_what_was_added(
    session_id: str, batches: list[list[BaseMessage]]
) -> None:
    manager = ConversationManager(MemoryStore())
    history = memory_history(session_id, manager)
    reference = InMemoryChatMessageHistory()
    for batch in batches:
        history.add_messages(batch)
        reference.add_messages(batch)
    assert dicts(memory_history(session_id, manager).messages) == dicts(reference.messages)
