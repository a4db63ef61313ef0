"""The openai-agents Session over the store, driven by a real `Agent` and `Runner.run`.

The model is a scripted fake at the SDK's own `Model` interface (no network). The same run goes
through the framework's own `SQLiteSession`, and both must hold the same items at every step.
Over Cosmos DB, every Session call's HTTP requests are counted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

pytest.importorskip("agents")

from agents import Agent, ModelResponse, RunConfig, Runner, SQLiteSession, Usage, function_tool
from agents.items import TResponseInputItem
from agents.memory import Session, SessionSettings
from agents.models.interface import Model
from azure.core.pipeline.transport import AioHttpTransport
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_reasoning_item import Summary

from conversation_store import ConversationNotFoundError, InvalidInputError, aio
from conversation_store.integrations.openai_agents import ConversationStoreSession
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS, CosmosTarget

T = TypeVar("T")
CUSTOMER = "user_123"
SESSION_ID = "tenant/a b/chat?#1"  # characters a store id may not hold: never hashed
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
RUN_CONFIG = RunConfig(tracing_disabled=True)


# -- the fake model ----------------------------------------------------------------------------


class ScriptedModel(Model):
    """Answers each call with the next scripted output and keeps the input it was given."""

    def __init__(self, outputs: list[list[Any]]) -> None:
        self._outputs = list(outputs)
        self.inputs: list[list[TResponseInputItem]] = []

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kw: Any
    ) -> Any:
        self.inputs.append(list(input) if isinstance(input, list) else [input])
        return ModelResponse(output=self._outputs.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise AssertionError("these tests run the agent without streaming")


def text(message_id: str, words: str) -> ResponseOutputMessage:
    part = ResponseOutputText(type="output_text", text=words, annotations=[])
    return ResponseOutputMessage(
        id=message_id, type="message", role="assistant", status="completed", content=[part]
    )


def tool_call(call_id: str, city: str) -> ResponseFunctionToolCall:
    arguments = json.dumps({"city": city})
    return ResponseFunctionToolCall(
        id=f"fc_{call_id}", call_id=call_id, type="function_call", name="get_weather",
        arguments=arguments,
    )  # fmt: skip


def reasoning(item_id: str, summary: str) -> ResponseReasoningItem:
    return ResponseReasoningItem(
        id=item_id, type="reasoning", summary=[Summary(type="summary_text", text=summary)]
    )


def script() -> list[list[Any]]:
    """The model's answers: a tool call (with reasoning), then an answer per turn."""
    return [
        [reasoning("rs_1", "The user wants weather."), tool_call("call_1", "Tokyo")],
        [text("msg_1", "It is 21 °C in Tokyo.")],
        [text("msg_2", "A clear sky.")],
        [text("msg_3", "Pack a jacket.")],
        [text("msg_4", "Pack a light jacket.")],
        [text("msg_5", "You are welcome.")],
    ]


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return json.dumps({"city": city, "temp": 21})


TURNS: list[str | list[TResponseInputItem]] = [
    "What is the weather in Tokyo?",
    [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "And this sky?"},
                {"type": "input_image", "image_url": PNG, "detail": "low"},
            ],
        }
    ],
    "What should I pack?",
]


@dataclass
class Run:
    """One session's run, and what it held after each step."""

    session: Session
    model: ScriptedModel = field(default_factory=lambda: ScriptedModel(script()))
    snapshots: list[list[TResponseInputItem]] = field(default_factory=list)
    popped: TResponseInputItem | None = None

    async def play(self) -> None:
        agent = Agent(
            name="travel", instructions="Be brief.", model=self.model, tools=[get_weather]
        )
        for turn in TURNS:
            await Runner.run(agent, turn, session=self.session, run_config=RUN_CONFIG)
            self.snapshots.append(await self.session.get_items())
        self.popped = await self.session.pop_item()  # take back the last answer and rerun
        self.snapshots.append(await self.session.get_items())
        await Runner.run(agent, [], session=self.session, run_config=RUN_CONFIG)
        self.snapshots.append(await self.session.get_items())
        limited = RunConfig(tracing_disabled=True, session_settings=SessionSettings(limit=2))
        await Runner.run(agent, "Thanks!", session=self.session, run_config=limited)
        self.snapshots.append(await self.session.get_items())


async def framework_run(tmp_path: Path) -> Run:
    run = Run(SQLiteSession(SESSION_ID, tmp_path / "agents.db"))
    await run.play()
    return run


# -- backends ----------------------------------------------------------------------------------


class CountingTransport(AioHttpTransport):
    """The SDK's own aiohttp transport, counting the requests it sends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[str] = []

    async def send(self, request: Any, **config: Any) -> Any:
        self.requests.append(f"{request.method} {urlsplit(request.url).path}")
        return await super().send(request, **config)


@dataclass
class Backend:
    manager: aio.ConversationManager
    transport: CountingTransport | None = None

    async def counted(self, call: Awaitable[T]) -> tuple[T, int]:
        """The call's result and the item requests (`/docs`) it sent (0 on SQLite). The SDK's
        own refreshes of the account and partition key ranges, on its timer, are not counted."""
        before = len(self.transport.requests) if self.transport else 0
        result = await call
        sent = self.transport.requests[before:] if self.transport else []
        return result, sum("/docs" in line for line in sent)


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        async with aio.ConversationManager(
            aio.SQLiteStore(tmp_path / "c.db"), owns_store=True
        ) as m:
            yield Backend(m)
        return
    target: CosmosTarget
    target, container = request.getfixturevalue("cosmos_container")
    transport = CountingTransport(connection_verify=target.verify_tls)
    store = aio.CosmosStore.from_endpoint(
        target.endpoint, credential=target.key, database=TEST_DATABASE, container=container,
        connection_verify=target.verify_tls, transport=transport, limits=TEST_LIMITS,
    )  # fmt: skip
    async with aio.ConversationManager(store, owns_store=True) as manager:
        yield Backend(manager, transport)
    await transport.close()


def open_session(
    backend: Backend, session_id: str = SESSION_ID, **kw: Any
) -> ConversationStoreSession:
    return ConversationStoreSession(session_id, manager=backend.manager, customer_id=CUSTOMER, **kw)


# -- the run -----------------------------------------------------------------------------------


async def test_a_run_stores_what_the_frameworks_sqlite_session_holds(
    backend: Backend, tmp_path: Path
) -> None:
    ours = Run(open_session(backend))
    assert isinstance(ours.session, Session)
    await ours.play()
    theirs = await framework_run(tmp_path)
    assert ours.snapshots == theirs.snapshots
    assert ours.popped == theirs.popped == ours.snapshots[2][-1]
    assert ours.model.inputs == theirs.model.inputs  # the model saw the same history each call
    # 3 turns (the first with reasoning, a tool call and its output), a pop, a rerun, and a
    # turn that reads only the last 2 items (the run's session settings)
    assert [len(items) for items in ours.snapshots] == [5, 7, 9, 8, 9, 11]
    rerun = text("msg_4", "Pack a light jacket.").model_dump(exclude_unset=True)
    assert ours.snapshots[4][-1] == rerun
    assert ours.model.inputs[-1] == [ours.snapshots[4][-2], rerun, ours.snapshots[5][-2]]
    assert await ours.session.get_items(limit=3) == theirs.snapshots[-1][-3:]


async def test_the_stored_conversation_reads_as_chat(backend: Backend) -> None:
    await Run(open_session(backend)).play()
    found = await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    messages = found.messages
    assert [(m.role, m.kind) for m in messages[:5]] == [
        ("user", "message"),
        ("assistant", "reasoning"),
        ("assistant", "message"),
        ("tool", "message"),
        ("assistant", "message"),
    ]
    assert messages[1].text == "The user wants weather."
    call = messages[2].tool_calls
    assert call and call[0].id == "call_1" and call[0].function.name == "get_weather"
    assert messages[3].tool_call_id == "call_1" and '"temp": 21' in messages[3].text
    assert messages[4].text == "It is 21 °C in Tokyo."
    image = messages[5].model_dump()["content"][1]
    assert image == {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}
    history = await backend.manager.get_history(found.id, CUSTOMER)
    assert "reasoning" not in {m.kind for m in history}


async def test_settings_limit_is_the_default_of_get_items(backend: Backend) -> None:
    session = open_session(backend, session_settings={"limit": 2})
    await Run(session).play()
    everything = await open_session(backend).get_items()
    assert await session.get_items() == everything[-2:]
    assert await session.get_items(limit=5) == everything[-5:]
    assert await session.get_items(limit=0) == []


# -- session calls -----------------------------------------------------------------------------


async def test_a_new_session_is_empty_and_is_created_by_its_first_add(backend: Backend) -> None:
    session = open_session(backend, title="Trip", metadata={"app": "demo"})
    assert await session.get_items() == []
    assert await session.pop_item() is None
    await session.clear_session()
    with pytest.raises(ConversationNotFoundError):
        await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    await session.add_items([{"role": "user", "content": "Hi"}])
    found = await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    assert (found.title, found.metadata, found.external_id) == ("Trip", {"app": "demo"}, SESSION_ID)


async def test_two_sessions_with_one_id_share_one_conversation(backend: Backend) -> None:
    first, second = open_session(backend), open_session(backend)
    assert await first.get_items() == await second.get_items() == []  # neither has created it
    await first.add_items([{"role": "user", "content": "one"}])
    await second.add_items([{"role": "user", "content": "two"}])
    assert [i["content"] for i in await first.get_items()] == ["one", "two"]  # type: ignore[typeddict-item]
    assert await second.pop_item() == {"role": "user", "content": "two"}
    assert await first.get_items() == [{"role": "user", "content": "one"}]


async def test_clear_keeps_the_conversation_and_a_later_add_reuses_it(backend: Backend) -> None:
    session = open_session(backend, title="Kept")
    await session.add_items(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    )
    await session.clear_session()
    assert await session.get_items() == []
    await session.add_items([{"role": "user", "content": "Again"}])
    found = await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    assert found.title == "Kept" and [m.text for m in found.messages] == ["Again"]


async def test_a_deleted_conversation_reads_empty_and_is_made_again(backend: Backend) -> None:
    session = open_session(backend)
    await session.add_items([{"role": "user", "content": "Hi"}])
    found = await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    await backend.manager.delete_conversation(found.id, CUSTOMER)
    assert await session.get_items() == []
    assert await session.pop_item() is None
    await session.clear_session()
    await session.add_items([{"role": "user", "content": "Back"}])
    assert await open_session(backend).get_items() == [{"role": "user", "content": "Back"}]


async def test_a_conversation_made_again_by_another_session_is_found(backend: Backend) -> None:
    remembering, other = open_session(backend), open_session(backend)
    await remembering.add_items([{"role": "user", "content": "old"}])
    found = await backend.manager.get_conversation_by_external_id(CUSTOMER, SESSION_ID)
    await backend.manager.delete_conversation(found.id, CUSTOMER)
    await other.add_items([{"role": "user", "content": "new"}, {"role": "user", "content": "2"}])
    assert await remembering.get_items() == await other.get_items()
    assert await remembering.pop_item() == {"role": "user", "content": "2"}
    await remembering.add_items([{"role": "user", "content": "3"}])
    assert [i["content"] for i in await other.get_items()] == ["new", "3"]  # type: ignore[typeddict-item]


BAD_ITEMS: list[Any] = [
    [{"role": "user", "content": float("nan")}],
    [{"role": "user", "content": object()}],
    ["not an object"],
    [{"role": "user", "content": "ok"}, {"role": "user", "content": "\ud800"}],
    [{"role": "user", "content": "x" * (4 * 1024 * 1024 + 1)}],
]


@pytest.mark.parametrize("items", BAD_ITEMS, ids=["nan", "object", "string", "surrogate", "big"])
async def test_bad_items_are_refused_and_nothing_is_stored(backend: Backend, items: Any) -> None:
    session = open_session(backend)
    await session.add_items([{"role": "user", "content": "before"}])
    with pytest.raises(InvalidInputError):
        await session.add_items(items)
    assert await session.get_items() == [{"role": "user", "content": "before"}]


@pytest.mark.parametrize("session_id", ["", "\x00"])
def test_a_bad_session_id_is_refused(backend: Backend, session_id: str) -> None:
    with pytest.raises(InvalidInputError):
        open_session(backend, session_id)


async def test_a_limit_of_zero_or_less_reads_nothing(backend: Backend) -> None:
    session = open_session(backend)
    await session.add_items([{"role": "user", "content": "1"}, {"role": "user", "content": "2"}])
    assert await session.get_items(limit=0) == await session.get_items(limit=-1) == []
    assert len(await session.get_items(limit=1)) == 1 and len(await session.get_items()) == 2


# -- Cosmos requests per call ------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", [pytest.param("cosmos", marks=pytest.mark.cosmos)], indirect=True
)
async def test_requests_per_session_call_on_cosmos(backend: Backend) -> None:
    await open_session(backend, "warm-up").get_items()  # the client reads the account once
    session = open_session(backend)
    counts: dict[str, int] = {}

    async def count(name: str, call: Callable[[], Awaitable[Any]]) -> None:
        counts[name] = (await backend.counted(call()))[1]

    item: TResponseInputItem = {"role": "user", "content": "Hi"}
    await count("get_items, new session", session.get_items)
    await count("add_items, first", lambda: session.add_items([item, item]))
    await count("add_items", lambda: session.add_items([item]))
    await count("get_items", session.get_items)
    await count("get_items(limit=2)", lambda: session.get_items(limit=2))
    await count("pop_item", session.pop_item)
    await count("clear_session", session.clear_session)
    await count("get_items, another Session object", open_session(backend).get_items)
    await count(
        "add_items, another Session object", lambda: open_session(backend).add_items([item])
    )
    print(json.dumps(counts, indent=2))
    assert counts == {
        "get_items, new session": 1,  # the lookup query
        "add_items, first": 1,  # the create, with its first items (the lookup is remembered)
        "add_items": 1,  # one patch
        "get_items": 1,  # one read of the head
        "get_items(limit=2)": 1,
        "pop_item": 2,  # a read and a conditional replace (ETag)
        "clear_session": 2,
        "get_items, another Session object": 2,  # the lookup query, then the head
        "add_items, another Session object": 3,  # the lookup (query, head), then the patch
    }


async def test_large_tool_outputs_and_images_read_back_whole(backend: Backend) -> None:
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\7" * 150_000).decode()
    items: list[TResponseInputItem] = [
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": image, "detail": "high"}],
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "r" * 120 * 1024},
        {"role": "user", "content": "and the next turn"},
    ]
    session = open_session(backend)
    await session.add_items(items[:2])
    await session.add_items(items[2:])
    assert await open_session(backend).get_items() == items
    assert await session.pop_item() == items[2]
    assert await session.get_items(limit=1) == items[1:2]
