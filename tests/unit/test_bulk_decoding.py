"""Bulk decoding of loads (SQLite's message bodies, Cosmos DB's head and segment items) builds
exactly what one `Conversation.model_validate` of the same document builds, and refuses
exactly what it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conversation_store import Conversation
from conversation_store.models import ROLES
from conversation_store.stores.cosmos.decoding import decoded_conversation
from conversation_store.stores.sqlite.rows import messages_from_bodies

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
        return Conversation.model_validate({**header, "messages": messages_from_bodies(bodies)})

    expected = _outcome(lambda: Conversation.model_validate({**header, "messages": messages}))
    assert _outcome(bulk) == expected


@pytest.mark.parametrize(
    "body", ['{"role": "user"}, {"role": "user"}', "]", "", "[]", '"text"', "{"]
)
def test_a_body_that_is_not_one_message_is_refused(body: str) -> None:
    with pytest.raises(ValueError):
        messages_from_bodies(['{"role": "user", "content": "fine"}', body])


def test_an_empty_load_decodes_to_no_messages() -> None:
    assert messages_from_bodies([]) == []
    with pytest.raises(ValidationError):
        decoded_conversation({"id": "c_1", "customer_id": "alice"}, None)  # type: ignore[arg-type]
