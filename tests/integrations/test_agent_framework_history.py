"""The Agent Framework `HistoryProvider` driven by a real `Agent` over SQLite and the local
Cosmos server: the model is a fake chat client (the framework's `BaseChatClient` with its
function-invocation layer, answering from a script), so no network is used.

Each run also holds the framework's own `InMemoryHistoryProvider` (store only), and a second
agent runs the same script with that provider alone: the stored messages must equal what it
holds, and the model must be sent the same history turn by turn.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from agent_framework import (
    Agent,
    AgentSession,
    BaseChatClient,
    ChatResponse,
    Content,
    FunctionInvocationLayer,
    InMemoryHistoryProvider,
    Message,
    tool,
)
from azure.core.pipeline.transport import AioHttpTransport, HttpRequest
from hypothesis import given
from hypothesis import strategies as st

from conversation_store import aio
from conversation_store.exceptions import InvalidInputError
from conversation_store.ids import validate_id
from conversation_store.integrations.agent_framework import (
    ConversationHistoryProvider,
    store_message_id,
)
from conversation_store.models import Message as StoredMessage
from support.cosmos_fixtures import CosmosTarget, open_aio_cosmos_store

CUSTOMER = "user_af"
IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQ"
    "GAhKmMIQAAAABJRU5ErkJggg=="
)


class CountingTransport(AioHttpTransport):
    """The SDK's own aiohttp transport, counting the item requests (`/docs`) it sends; the
    SDK's own refreshes of the account and partition key ranges, on its timer, are not counted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent = 0

    async def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        if "/docs" in request.url:
            self.sent += 1
        return await super().send(request, **kwargs)


class ScriptedClient(FunctionInvocationLayer[Any], BaseChatClient[Any]):
    """A chat client answering each model call with the next scripted response, recording what
    it was sent."""

    def __init__(self, replies: Sequence[ChatResponse[Any]]) -> None:
        super().__init__()
        self._replies = list(replies)
        self.requests: list[list[Message]] = []

    async def _answer(self, messages: Sequence[Message]) -> ChatResponse[Any]:
        self.requests.append(list(messages))
        return self._replies.pop(0)

    def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Mapping[str, Any], **_: Any
    ) -> Awaitable[ChatResponse[Any]]:
        assert not stream
        return self._answer(messages)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return json.dumps({"city": city, "sky": "sunny", "celsius": 21})


def script() -> list[ChatResponse[Any]]:
    def reply(*contents: Any, message_id: str | None = None) -> ChatResponse[Any]:
        return ChatResponse(messages=[Message("assistant", list(contents), message_id=message_id)])

    call = Content.from_function_call(
        "call_1", "get_weather", arguments='{"city": "Paris"}', id="fc_1"
    )
    return [
        reply("Hello! How can I help?", message_id="chatcmpl-1"),
        reply(call, message_id="chatcmpl-2/part"),
        reply("It is sunny and 21 °C in Paris.", message_id="chatcmpl-3"),
        reply("A single red pixel."),  # a model answer without an id
        reply("You are welcome.", message_id="chatcmpl-5"),
    ]


TURNS: list[Any] = [
    "Hi",
    "What is the weather in Paris?",
    [Message("user", ["What is in this image?", Content.from_uri(IMAGE, media_type="image/png")])],
]
LAST_TURN = "Thanks!"


def dumped(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in messages]


def without_ids(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The messages' JSON without `message_id`, which our provider sets where it was missing,
    and without the `_attribution` the agent marks loaded history with (it names the provider).
    """
    result = []
    for message in messages:
        data = {k: v for k, v in message.to_dict().items() if k != "message_id"}
        extra = data.get("additional_properties") or {}
        data["additional_properties"] = {k: v for k, v in extra.items() if k != "_attribution"}
        result.append(data)
    return result


async def reference_run() -> tuple[list[Message], list[list[Message]]]:
    """The same script with the framework's own in-memory history alone."""
    client = ScriptedClient(script())
    agent = Agent(client=client, instructions="Be brief.", tools=[get_weather])
    session = agent.create_session(session_id="tenant/a?b#c ü")
    for turn in [*TURNS, LAST_TURN]:
        await agent.run(turn, session=session)
    return session.state[InMemoryHistoryProvider.DEFAULT_SOURCE_ID]["messages"], client.requests


@pytest.fixture
async def manager(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[aio.ConversationManager, CountingTransport | None]]:
    if request.param == "sqlite":
        async with aio.ConversationManager(
            aio.SQLiteStore(tmp_path / "af.db"), owns_store=True
        ) as opened:
            yield opened, None
        return
    target, name = request.getfixturevalue("cosmos_container")
    assert isinstance(target, CosmosTarget)
    transport = CountingTransport()
    store = open_aio_cosmos_store(target, name, transport=transport)
    async with aio.ConversationManager(store, owns_store=True) as opened:
        yield opened, transport
    await transport.close()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("cosmos", id="cosmos", marks=pytest.mark.cosmos),
]


@pytest.mark.parametrize("manager", BACKENDS, indirect=True)
async def test_an_agent_run_stores_what_the_in_memory_history_holds(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, _ = manager
    expected, expected_requests = await reference_run()

    client = ScriptedClient(script())
    provider = ConversationHistoryProvider(conversations, CUSTOMER)
    audit = InMemoryHistoryProvider(load_messages=False)
    agent = Agent(
        client=client,
        instructions="Be brief.",
        tools=[get_weather],
        context_providers=[provider, audit],
    )
    session = agent.create_session(session_id="tenant/a?b#c ü")
    for turn in TURNS:
        await agent.run(turn, session=session)

    # The session is persisted and restored (its provider state with it) by a new process.
    restored = AgentSession.from_dict(json.loads(json.dumps(session.to_dict())))
    provider_2 = ConversationHistoryProvider(conversations, CUSTOMER)
    agent_2 = Agent(
        client=client,
        instructions="Be brief.",
        tools=[get_weather],
        context_providers=[provider_2, InMemoryHistoryProvider(load_messages=False)],
    )
    await agent_2.run(LAST_TURN, session=restored)

    held = [
        *session.state[audit.source_id]["messages"],
        *restored.state[audit.source_id]["messages"][-2:],
    ]
    loaded = await ConversationHistoryProvider(conversations, CUSTOMER).get_messages(
        "tenant/a?b#c ü"
    )
    assert dumped(loaded) == dumped(held)
    assert without_ids(loaded) == without_ids(expected)
    assert [without_ids(sent) for sent in client.requests] == [
        without_ids(sent) for sent in expected_requests
    ]

    # The stored chat reading: tool call, tool result, image part, and our ids.
    stored = await conversations.get_conversation_by_external_id(CUSTOMER, "tenant/a?b#c ü")
    by_role = [(m.role, m.kind) for m in stored.messages]
    assert by_role == [
        ("user", "message"),
        ("assistant", "message"),
        ("user", "message"),
        ("assistant", "message"),
        ("tool", "message"),
        ("assistant", "message"),
        ("user", "message"),
        ("assistant", "message"),
        ("user", "message"),
        ("assistant", "message"),
    ]
    call, result, image = stored.messages[3], stored.messages[4], stored.messages[6]
    assert call.id == "chatcmpl-2%2Fpart" and call.content is None
    assert call.tool_calls is not None
    assert call.tool_calls[0].model_dump() == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert result.tool_call_id == "call_1"
    assert json.loads(result.text) == {"city": "Paris", "sky": "sunny", "celsius": 21}
    assert isinstance(image.content, list)
    assert [p.model_dump() for p in image.content] == [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": IMAGE}},
    ]
    assert [m.raw for m in stored.messages] == dumped(held)


@pytest.mark.parametrize("manager", BACKENDS, indirect=True)
async def test_saving_the_same_messages_again_stores_them_once(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, _ = manager
    provider = ConversationHistoryProvider(conversations, CUSTOMER)
    turn = [
        Message("user", ["Hi"]),
        Message("assistant", ["Hello"], message_id="resp_1"),
    ]
    await provider.save_messages("s-1", turn)
    await provider.save_messages("s-1", turn)  # a retry, without session state
    state: dict[str, Any] = {}
    await provider.save_messages("s-1", [*turn, Message("user", ["Again"])], state=state)
    await provider.save_messages("s-1", [turn[1], turn[1]], state=state)
    loaded = await provider.get_messages("s-1", state=state)
    assert [m.text for m in loaded] == ["Hi", "Hello", "Again"]
    assert loaded[0].message_id == turn[0].message_id  # set on the framework message
    assert (await conversations.get_conversation_by_external_id(CUSTOMER, "s-1")).message_count == 3


@pytest.mark.parametrize("manager", BACKENDS, indirect=True)
async def test_pop_and_clear_remove_the_newest_messages(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, _ = manager
    provider = ConversationHistoryProvider(conversations, CUSTOMER)
    assert await provider.pop_messages("never-saved") == []
    messages = [Message("user", [f"m{i}"], message_id=f"id-{i}") for i in range(4)]
    await provider.save_messages("s-pop", messages)
    popped = await provider.pop_messages("s-pop", 2)
    assert dumped(popped) == dumped(messages[2:])
    assert dumped(await provider.get_messages("s-pop")) == dumped(messages[:2])
    await provider.clear("s-pop")
    assert await provider.get_messages("s-pop") == []
    await provider.save_messages("s-pop", messages[:1])  # the cleared conversation is reused
    assert dumped(await provider.get_messages("s-pop")) == dumped(messages[:1])


@pytest.mark.parametrize("manager", BACKENDS, indirect=True)
async def test_a_message_the_store_refuses_writes_nothing(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, _ = manager
    provider = ConversationHistoryProvider(conversations, CUSTOMER)
    await provider.save_messages("s-bad", [Message("user", ["ok"], message_id="ok")])
    not_json = Message("user", ["x"], additional_properties={"score": float("nan")})
    too_long_id = Message("user", ["x"], message_id="x" * 300)
    bad_image = Message(
        "user", [Content.from_uri("data:image/png;base64,@@@", media_type="image/png")]
    )
    for bad in (not_json, too_long_id, bad_image):
        with pytest.raises(InvalidInputError):
            await provider.save_messages("s-bad", [Message("user", ["before"]), bad])
    assert [m.text for m in await provider.get_messages("s-bad")] == ["ok"]


@pytest.mark.parametrize("manager", BACKENDS, indirect=True)
async def test_messages_another_writer_stored_read_as_framework_messages(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, _ = manager
    doc = conversations.create_conversation_document(CUSTOMER, None, external_id="app/chat")
    conversations.add_message_to_conversation(doc, "user", "Weather in Oslo?")
    call = {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    conversations.add_message_to_conversation(doc, "assistant", None, tool_calls=[call])
    conversations.add_message_to_conversation(doc, "tool", "rain", tool_call_id="c1")
    await conversations.save_conversation(doc)
    reasoning = StoredMessage(id="m_r", role="assistant", kind="reasoning")
    await conversations.append_messages(doc.id, CUSTOMER, [reasoning])

    loaded = await ConversationHistoryProvider(conversations, CUSTOMER).get_messages("app/chat")
    assert [(m.role, m.message_id) for m in loaded] == [
        (m.role, m.id) for m in doc.messages
    ]  # the reasoning item, which has no framework form, is left out
    assert loaded[0].text == "Weather in Oslo?"
    function_call, result = loaded[1].contents[0], loaded[2].contents[0]
    assert (function_call.type, function_call.call_id, function_call.name) == (
        "function_call",
        "c1",
        "w",
    )
    assert (result.type, result.call_id, result.result) == ("function_result", "c1", "rain")


@pytest.mark.cosmos
@pytest.mark.parametrize("manager", [pytest.param("cosmos", id="cosmos")], indirect=True)
async def test_cosmos_requests_per_call(
    manager: tuple[aio.ConversationManager, CountingTransport | None],
) -> None:
    conversations, transport = manager
    assert transport is not None
    provider = ConversationHistoryProvider(conversations, CUSTOMER)
    await provider.get_messages("warm-up")  # the SDK's first account and container reads
    counts: dict[str, int] = {}

    async def count(name: str, call: Awaitable[object]) -> None:
        before = transport.sent
        await call
        counts[name] = transport.sent - before

    state: dict[str, Any] = {}
    turn = [Message("user", ["Hi"]), Message("assistant", ["Hello"], message_id="r1")]
    more = [Message("user", ["More"]), Message("assistant", ["Sure"], message_id="r2")]
    await count("get_messages, new session", provider.get_messages("s", state=state))
    await count("save_messages, first", provider.save_messages("s", turn, state=state))
    await count("get_messages", provider.get_messages("s", state=state))
    await count("save_messages", provider.save_messages("s", more, state=state))
    await count("save_messages, retried", provider.save_messages("s", more, state=state))
    await count("get_messages, no state", provider.get_messages("s"))
    await count("save_messages, no state", provider.save_messages("s", [Message("user", ["x"])]))
    await count("pop_messages", provider.pop_messages("s", 1, state=state))
    await count("clear", provider.clear("s", state=state))

    agent = Agent(client=ScriptedClient(script()), context_providers=[provider])
    session = agent.create_session(session_id="agent/session")
    await count("agent.run, first turn", agent.run("Hi", session=session))
    await count("agent.run, next turn", agent.run("And?", session=session))
    print(json.dumps(counts, indent=1))
    assert counts == {
        "get_messages, new session": 1,  # the external-id query finds nothing
        "save_messages, first": 1,  # the create, messages included
        "get_messages": 1,  # the conversation id is in the session state: one read
        "save_messages": 1,  # one patch
        "save_messages, retried": 2,  # the patch refused (ids stored), then the check read
        "get_messages, no state": 2,  # the external-id query, then the read
        "save_messages, no state": 3,  # the query and the read, then the patch
        "pop_messages": 2,  # the read, then the conditional replace of the head
        "clear": 2,
        "agent.run, first turn": 2,  # the lookup that finds nothing, the create
        "agent.run, next turn": 2,  # one read, one patch
    }


@given(st.text(min_size=1, max_size=25))
def test_a_framework_message_id_becomes_a_valid_store_id(message_id: str) -> None:
    stored = store_message_id(message_id)  # 25 characters, each at most 9 bytes escaped
    assert validate_id(stored, "message id") == stored
    try:
        valid_as_is = validate_id(message_id, "message id") == message_id
    except InvalidInputError:
        valid_as_is = False
    if valid_as_is and "%" not in message_id:
        assert stored == message_id  # ordinary ids are kept as they are


@given(st.lists(st.text(min_size=1, max_size=25), min_size=2, max_size=6, unique=True))
def test_distinct_message_ids_stay_distinct(message_ids: list[str]) -> None:
    stored = {store_message_id(message_id) for message_id in message_ids}
    assert len(stored) == len(message_ids)


def test_without_the_framework_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "conversation_store.integrations.agent_framework"
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "agent_framework", None)  # as if not installed
    with pytest.raises(ImportError, match=r"conversation-store\[agent-framework\]"):
        importlib.import_module(name)
