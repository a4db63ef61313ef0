"""Bulk decoding of loads (SQLite's and PostgreSQL's message bodies, Cosmos DB's head and
segment items) builds exactly what one `Conversation.model_validate` of the same document
builds, and refuses exactly what it refuses; the cyclic collector is paused while it runs and
left as it was found."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conversation_store import Conversation
from conversation_store.decoding import (
    collector_paused,
    is_system_body,
    messages_from_documents,
    messages_from_json,
)
from conversation_store.models import ROLES
from conversation_store.stores.cosmos.decoding import decoded_conversation

# No lone surrogates: stored bodies are UTF-8 (the validation boundary refuses them).
_text = partial(st.text, st.characters(exclude_categories=("Cs",)))
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda moment: moment.isoformat()
) | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
# Message documents as they may be stored: well formed, or with any field a wrong value.
message_documents = st.fixed_dictionaries(
    # A timestamp always: a missing one defaults to the time of decoding.
    {"role": st.sampled_from(ROLES) | json_scalars, "timestamp": stamps | json_scalars},
    optional={
        "id": st.none() | _text(min_size=1, max_size=12),
        "content": st.none() | _text(max_size=30) | json_values,
        "tokens": st.none() | st.integers(-2, 10_000),
        "metadata": st.dictionaries(_text(max_size=6), json_values, max_size=2) | json_scalars,
        "kind": st.sampled_from(("message", "reasoning", "event", "other")),
        "extra_field": json_values,
    },
)
headers = st.fixed_dictionaries(
    {
        "id": st.just("c_1"),
        "customer_id": st.just("alice"),
        "created_at": stamps,
        "updated_at": stamps,
    },
    optional={
        "message_count": st.integers(-1, 100),
        "total_tokens": st.integers(0, 1000),
        "title": st.none() | _text(max_size=10),
        "voicebot_version": _text(max_size=5),
    },
)


def _outcome(build: Any) -> dict[str, Any] | type[Exception]:
    try:
        return dict(build().to_document())
    except ValueError:
        return ValueError


@settings(max_examples=300, deadline=None)
@given(headers, st.lists(message_documents, max_size=4))
def test_cosmos_decoding_matches_one_model_validate(
    header: dict[str, Any], messages: list[dict[str, Any]]
) -> None:
    expected = _outcome(lambda: Conversation.model_validate({**header, "messages": messages}))
    assert _outcome(lambda: decoded_conversation(header, messages)) == expected


@settings(max_examples=300, deadline=None)
@given(headers.map(lambda h: {**h, "message_count": 0}), st.lists(message_documents, max_size=4))
def test_sqlite_bodies_decode_as_one_model_validate(
    header: dict[str, Any], messages: list[dict[str, Any]]
) -> None:
    bodies = [json.dumps(message) for message in messages]

    def bulk() -> Conversation:
        return Conversation.model_validate({**header, "messages": messages_from_json(bodies)})

    expected = _outcome(lambda: Conversation.model_validate({**header, "messages": messages}))
    assert _outcome(bulk) == expected


@pytest.mark.parametrize(
    "body", ['{"role": "user"}, {"role": "user"}', "]", "", "[]", '"text"', "{"]
)
def test_a_body_that_is_not_one_message_is_refused(body: str) -> None:
    with pytest.raises(ValueError):
        messages_from_json(['{"role": "user", "content": "fine"}', body])


@settings(max_examples=200, deadline=None)
@given(st.lists(message_documents, max_size=4))
def test_bodies_as_utf8_bytes_decode_as_the_same_text_does(messages: list[dict[str, Any]]) -> None:
    bodies = [json.dumps(message, ensure_ascii=False) for message in messages]

    def decode(given: list[str] | list[bytes]) -> object:
        try:
            return messages_from_json(given)
        except ValueError:
            return ValueError

    assert decode([body.encode() for body in bodies]) == decode(bodies)


@pytest.mark.parametrize(
    "bodies",
    [
        ['{"role": "user"}', b'{"role": "user"}'],
        [b'{"role": "user"}', '{"role": "user"}'],
        [5],
        [None],
        [b'{"role": "user", "content": "\xff"}'],
        [b"\xff\xfe"],
    ],
    ids=["text then bytes", "bytes then text", "a number", "None", "bad UTF-8", "no JSON"],
)
def test_bodies_neither_all_text_nor_all_utf8_json_are_a_value_error(bodies: Any) -> None:
    with pytest.raises(ValueError):
        messages_from_json(bodies)


@pytest.mark.parametrize(
    ("body", "system"),
    [
        ('{"role": "system", "content": "be brief"}', True),
        (b'{"role": "system"}', True),
        ('{"role": "user"}', False),
        ('[{"role": "system"}]', False),
        ('"system"', False),
        ("null", False),
        ("not json", False),
        (b"\xff", False),
        ("[" * 100_000, False),
    ],
)
def test_only_a_json_object_with_the_system_role_is_a_system_body(
    body: str | bytes, system: bool
) -> None:
    assert is_system_body(body) is system


def test_an_empty_load_decodes_to_no_messages() -> None:
    assert messages_from_json([]) == []
    with pytest.raises(ValidationError):
        decoded_conversation({"id": "c_1", "customer_id": "alice"}, None)  # type: ignore[arg-type]


def _documents(count: int) -> list[dict[str, Any]]:
    stamp = "2026-01-01T00:00:00.000000Z"
    return [
        {"id": f"m_{n}", "role": "user", "content": "words " * 20, "timestamp": stamp}
        for n in range(count)
    ]


BAD = [{"role": "user", "timestamp": "2026-01-01T00:00:00Z"}, {"role": "nobody"}]
DECODES: dict[str, Callable[[list[dict[str, Any]]], object]] = {
    "json": lambda documents: messages_from_json([json.dumps(d) for d in documents]),
    "documents": messages_from_documents,
}


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the cyclic collections that start while the test runs."""
    started: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield started
    finally:
        gc.callbacks.remove(record)


@pytest.mark.parametrize("decode", DECODES.values(), ids=DECODES.keys())
def test_a_large_decode_runs_without_collections(
    decode: Callable[[list[dict[str, Any]]], object], collections: list[int]
) -> None:
    documents = _documents(20_000)  # some 100,000 container objects: ~140 collections unpaused
    collections.clear()
    decoded = decode(documents)
    assert isinstance(decoded, list) and len(decoded) == 20_000
    # At most the one the allocations after the pause set off, as the collector comes back.
    assert len(collections) <= 1, collections


@pytest.mark.parametrize("decode", DECODES.values(), ids=DECODES.keys())
@pytest.mark.parametrize("documents", [_documents(3), BAD], ids=["valid", "invalid"])
@pytest.mark.parametrize("enabled", [True, False], ids=["collector-on", "collector-off"])
def test_a_decode_leaves_the_collector_as_it_found_it(
    decode: Callable[[list[dict[str, Any]]], object],
    documents: list[dict[str, Any]],
    enabled: bool,
) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        try:
            decode(documents)
        except ValidationError:
            assert documents is BAD
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_pause_inside_a_pause_leaves_the_outer_one_to_resume() -> None:
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
