"""Hypothesis round trips of message model v2 through real stores (memory and a SQLite file):
any valid v2 message is loaded back byte for byte as it was appended, and a v1 document
(string content, the roles and fields of schema 1) loads back with every field unchanged.

On Cosmos DB (the local server) a number is a JSON double: an integral float comes back as an
integer (`0.0` as `0`), and a float beyond 2**53 as a long integer. So there the messages come
back equal as JSON values (`0 == 0.0`), with floats drawn within ±2**53.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation_store import (
    Conversation,
    ConversationManager,
    ConversationStore,
    MemoryStore,
    Message,
    SQLiteStore,
)
from conversation_store.models import ConversationKey
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES, validate_message
from support.cosmos_fixtures import CosmosTarget, fresh_container, open_cosmos_store

_counter = itertools.count()
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # NUL included
names = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)


def _json_values(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | floats | text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=12,
    )


json_values = _json_values(st.floats(allow_nan=False, allow_infinity=False))
double_values = _json_values(st.floats(-(2.0**53), 2.0**53, allow_nan=False))
b64 = st.binary(min_size=1, max_size=64).map(lambda b: base64.b64encode(b).decode())
detail = st.sampled_from([{}, {"detail": "auto"}, {"detail": "low"}, {"detail": "high"}])
url = b64.map(lambda d: f"data:image/png;base64,{d}") | names.map(
    lambda n: f"https://example.com/{n}.png"
)


def _part(kind: str, body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, **body, **extra}


def _parts(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Parts of every type; text and image parts with extra fields of `values`."""
    extras = st.dictionaries(names.map(lambda n: f"x_{n}"), values, max_size=2)
    return st.one_of(
        st.builds(lambda t, e: _part("text", {"text": t}, e), text, extras),
        st.builds(
            lambda u, d, e: _part("image_url", {"image_url": {"url": u, **d}}, e),
            url,
            detail,
            extras,
        ),
        st.builds(
            lambda d, f: _part("input_audio", {"input_audio": {"data": d, "format": f}}, {}),
            b64,
            st.sampled_from(["wav", "mp3"]),
        ),
        st.builds(
            lambda file: _part("file", {"file": file}, {}),
            st.fixed_dictionaries(
                {"file_id": names.map(lambda n: f"file-{n}")}, optional={"filename": names}
            )
            | st.fixed_dictionaries(
                {"file_data": b64.map(lambda d: f"data:application/pdf;base64,{d}")},
                optional={"filename": names},
            ),
        ),
        st.builds(lambda t: _part("refusal", {"refusal": t}, {}), text),
    )


non_blank = text.filter(str.strip)
tool_call = st.builds(
    lambda n, a: {"id": f"call_{n}", "type": "function", "function": {"name": n, "arguments": a}},
    names,
    text,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def v2_messages(draw: st.DrawFn, values: st.SearchStrategy[Any] = json_values) -> Message:
    """A message the boundary accepts: any role and kind, text or parts, optional raw."""
    role = draw(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
    kind = draw(st.sampled_from(["message", "message", "reasoning", "event"]))
    data: dict[str, Any] = {
        "id": f"m_{next(_counter)}",
        "role": role,
        "content": draw(non_blank | st.lists(_parts(values), min_size=1, max_size=4)),
        "timestamp": draw(times),
        "metadata": draw(st.dictionaries(text, values, max_size=3)),
    }
    if kind != "message":
        data["kind"] = kind
    if draw(st.booleans()):
        data["raw"] = draw(values)
    if draw(st.booleans()):
        data["tokens"] = draw(st.integers(0, 2**31 - 1))
    if role == "assistant" and draw(st.booleans()):
        data["tool_calls"] = draw(st.lists(tool_call, min_size=1, max_size=2))
        data["content"] = draw(st.none() | st.just("") | st.just([]) | st.just(data["content"]))
    if role == "tool":
        data["tool_call_id"] = draw(names)
        data["content"] = draw(st.just("") | st.just(data["content"]))
    return Message.model_validate(data)


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def embedded_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConversationStore]:
    """One store per module (Hypothesis runs many examples against it)."""
    path: Path = tmp_path_factory.mktemp("v2") / "conversations.db"
    store: ConversationStore = MemoryStore() if request.param == "memory" else SQLiteStore(path)
    yield store
    store.close()


@pytest.fixture(scope="module")
def cosmos_v2_store(cosmos_target: CosmosTarget) -> Iterator[ConversationStore]:
    with fresh_container(cosmos_target) as container:
        store = open_cosmos_store(cosmos_target, container)
        yield store
        store.close()


def _bytes(message: Message) -> str:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False)


def _appended_and_loaded(store: ConversationStore, batch: list[Message]) -> Conversation:
    for message in batch:
        validate_message(message, max_content_bytes=DEFAULT_MAX_CONTENT_BYTES)
    manager = ConversationManager(store)
    conversation = manager.save_conversation(manager.create_conversation_document("alice", "s"))
    manager.append_messages(conversation.id, "alice", batch)
    return manager.load_conversation(conversation.id, "alice")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(v2_messages(), min_size=1, max_size=5))
def test_any_valid_v2_message_comes_back_byte_for_byte(
    embedded_store: ConversationStore, batch: list[Message]
) -> None:
    loaded = _appended_and_loaded(embedded_store, batch)

    assert [_bytes(m) for m in loaded.messages] == [_bytes(m) for m in batch]
    assert loaded.schema_version == 2


@pytest.mark.cosmos
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(v2_messages(double_values), min_size=1, max_size=5))
def test_any_valid_v2_message_comes_back_equal_on_cosmos(
    cosmos_v2_store: ConversationStore, batch: list[Message]
) -> None:
    loaded = _appended_and_loaded(cosmos_v2_store, batch)

    assert [m.model_dump(mode="json") for m in loaded.messages] == [
        m.model_dump(mode="json") for m in batch
    ]
    assert loaded.schema_version == 2


@st.composite
def v1_documents(draw: st.DrawFn, values: st.SearchStrategy[Any] = json_values) -> dict[str, Any]:
    """A schema 1 document as this package wrote it before v2 (ids, counters, string content)."""
    messages = [
        {
            "id": f"m_{next(_counter)}",
            "role": draw(st.sampled_from(["system", "user", "assistant", "tool", "function"])),
            "content": draw(non_blank),
            "timestamp": draw(times).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "tokens": draw(st.integers(0, 10_000)),
            "metadata": draw(st.dictionaries(text, values, max_size=2)),
        }
        for _ in range(draw(st.integers(0, 4)))
    ]
    created = draw(times).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": f"c_{next(_counter)}",
        "type": "conversation",
        "schema_version": 1,
        "customer_id": "alice",
        "session_id": draw(st.none() | names),
        "title": draw(st.none() | names),
        "persona": None,
        "org_id": None,
        "metadata": draw(st.dictionaries(text, values, max_size=2)),
        "created_at": created,
        "updated_at": created,
        "message_count": len(messages),
        "total_tokens": sum(m["tokens"] for m in messages),
        "summary": None,
        "archived": False,
        "messages": messages,
    }


def _created_and_loaded(store: ConversationStore, document: dict[str, Any]) -> dict[str, Any]:
    store.create_conversation(Conversation.model_validate(document))
    return store.get_conversation(ConversationKey("alice", document["id"])).to_document()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=v1_documents())
def test_a_v1_document_loads_unchanged(
    embedded_store: ConversationStore, document: dict[str, Any]
) -> None:
    loaded = _created_and_loaded(embedded_store, document)

    assert json.dumps({key: loaded[key] for key in document}) == json.dumps(document)
    assert all("kind" not in m and "raw" not in m for m in loaded["messages"])


@pytest.mark.cosmos
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=v1_documents(double_values))
def test_a_v1_document_loads_unchanged_on_cosmos(
    cosmos_v2_store: ConversationStore, document: dict[str, Any]
) -> None:
    loaded = _created_and_loaded(cosmos_v2_store, document)

    assert {key: loaded[key] for key in document} == document
