"""Bad input raises a typed error and leaves every stored byte as it was."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    Message,
)
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES


@pytest.fixture
def stored(manager: ConversationManager) -> str:
    doc = manager.create_conversation_document("alice", "s1", title="kept")
    manager.add_message_to_conversation(doc, "user", "original")
    manager.save_conversation(doc)
    return doc.id


def _snapshot(manager: ConversationManager, customer: str = "alice") -> list[dict[str, Any]]:
    listed = manager.get_recent_conversations(customer, limit=100).items
    return [manager.load_conversation(c.id, customer).to_document() for c in listed]


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"k": value}
    return value


BAD_APPENDS: dict[str, dict[str, Any]] = {
    "unknown role": {"role": "robot"},
    "empty content": {"content": ""},
    "blank content": {"content": "  \n "},
    "content not text": {"content": 42},
    "oversize content": {"content": "x" * (DEFAULT_MAX_CONTENT_BYTES + 1)},
    "lone surrogate": {"content": "\ud800"},
    "negative tokens": {"tokens": -1},
    "metadata not a mapping": {"metadata": ["a"]},
    "metadata with a set": {"metadata": {"s": {1, 2}}},
    "metadata with NaN": {"metadata": {"n": float("nan")}},
    "cyclic metadata": {"metadata": _cyclic()},
    "too deep metadata": {"metadata": _deep(40)},
    "message id with slash": {"message_id": "m/1"},
    "conversation id with hash": {"conversation_id": "c#1"},
    "conversation id with question mark": {"conversation_id": "c?1"},
    "customer id with backslash": {"customer_id": "a\\b"},
    "empty customer id": {"customer_id": ""},
    "customer id not text": {"customer_id": 7},
    "overlong conversation id": {"conversation_id": "c" * 256},
}

# Issue 13's findings, each with the field its refusal must name.
HOSTILE_APPENDS: dict[str, tuple[dict[str, Any], str]] = {
    "conversation id '.'": ({"conversation_id": "."}, "conversation id"),
    "conversation id '..'": ({"conversation_id": ".."}, "conversation id"),
    "segment-like conversation id": ({"conversation_id": "x:0"}, "conversation id"),
    "id of 256 bytes in 128 characters": ({"conversation_id": "é" * 128}, "conversation id"),
    "surrogate in conversation id": ({"conversation_id": "c\udc00"}, "conversation id"),
    "share partition customer id": ({"customer_id": "_share:abc"}, "customer id"),
    "surrogate in customer id": ({"customer_id": "\ud800"}, "customer id"),
    "surrogate in message id": ({"message_id": "m\ud800"}, "message id"),
    "surrogate in metadata key": ({"metadata": {"\ud800": 1}}, "metadata"),
    "surrogate in metadata value": ({"metadata": {"k": ["\udfff"]}}, "metadata"),
    "integer above 2**53": ({"metadata": {"n": 2**53}}, "metadata"),
    "2**63 - 1 in metadata": ({"metadata": {"n": 2**63 - 1}}, "metadata"),
    "integer below -2**53": ({"metadata": {"n": -(2**53)}}, "metadata"),
    "tokens 2**31": ({"tokens": 2**31}, "tokens"),
    "tokens 2**63": ({"tokens": 2**63}, "tokens"),
    "tool_calls=123": ({"tool_calls": 123}, "tool_calls"),
    "tool_calls a string": ({"tool_calls": "call"}, "tool_calls"),
    "tool call without function": ({"tool_calls": [{"id": "t"}]}, "tool_calls"),
    "tool call arguments not text": (
        {"tool_calls": [{"id": "t", "function": {"name": "f", "arguments": {"a": 1}}}]},
        "tool_calls",
    ),
    "surrogate in tool call name": (
        {"tool_calls": [{"id": "t", "function": {"name": "\ud800", "arguments": "{}"}}]},
        "tool_calls",
    ),
    "surrogate in name": ({"name": "\ud800"}, "name"),
    "surrogate in tool_call_id": ({"tool_call_id": "\ud800"}, "tool_call_id"),
}


@pytest.mark.parametrize("change", BAD_APPENDS.values(), ids=BAD_APPENDS.keys())
def test_bad_append_raises_and_changes_nothing(
    manager: ConversationManager, stored: str, change: dict[str, Any]
) -> None:
    before = _snapshot(manager)
    call: dict[str, Any] = {
        "conversation_id": stored,
        "customer_id": "alice",
        "role": "user",
        "content": "fine",
        **change,
    }

    with pytest.raises(InvalidInputError):
        manager.append_message(**call)

    assert _snapshot(manager) == before


@pytest.mark.parametrize(("change", "field"), HOSTILE_APPENDS.values(), ids=HOSTILE_APPENDS.keys())
def test_hostile_append_names_the_field_and_changes_nothing(
    manager: ConversationManager, stored: str, change: dict[str, Any], field: str
) -> None:
    before = _snapshot(manager)
    call: dict[str, Any] = {
        "conversation_id": stored,
        "customer_id": "alice",
        "role": "user",
        "content": "fine",
        **change,
    }

    with pytest.raises(InvalidInputError, match=field):
        manager.append_message(**call)

    assert _snapshot(manager) == before


def _document(conversation_id: str = "c_imported", **change: Any) -> dict[str, Any]:
    message = {"id": "m_1", "role": "user", "content": "q", "timestamp": "2025-01-01T00:00:00Z"}
    message.update(change.pop("message", {}))
    return {
        "id": conversation_id,
        "customer_id": "alice",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "messages": [message],
        **change,
    }


HOSTILE_IMPORTS: dict[str, tuple[object, str]] = {
    "JSON nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nested"),
    "metadata nested 5,000 deep": (
        json.dumps(_document(metadata={})).replace(
            '"metadata": {}', '"metadata": ' + '{"k": ' * 5_000 + "1" + "}" * 5_000
        ),
        "nested",
    ),
    "a dict nested 5,000 deep": (_document(metadata=_deep(5_000)), "nested"),
    "content over the append limit": (
        _document(message={"content": "x" * (DEFAULT_MAX_CONTENT_BYTES + 1)}),
        "content",
    ),
    "title over the limit": (_document(title="t" * 201), "title"),
    "summary over the limit": (_document(summary="s" * 2_001), "summary"),
    "metadata over 64 KiB": (_document(metadata={"big": "x" * 70_000}), "metadata"),
    "surrogate in an escaped title": (
        '{"id": "c_1", "customer_id": "a", "title": "\\ud800"}',
        "title",
    ),
    "year 999": (_document(created_at="0999-12-31T00:00:00Z"), "created_at"),
    "year 1 with an offset": (_document(updated_at="0001-01-01T00:00:00+01:00"), "updated_at"),
    "year 9999 with an offset": (
        _document(message={"timestamp": "9999-12-31T23:59:59-01:00"}),
        "timestamp",
    ),
    "message_count above 2**53": (_document(message_count=2**53), "message_count"),
    "total_tokens above 2**53": (_document(total_tokens=2**60), "total_tokens"),
    "huge ttl": (_document(ttl=2**40), "ttl"),
    "tokens 2**62": (_document(message={"tokens": 2**62}), "tokens"),
    "tool_calls=123": (_document(message={"role": "assistant", "tool_calls": 123}), "tool_calls"),
    "segment-like id": (_document("c_x:0"), "conversation id"),
    "share partition customer": ({**_document(), "customer_id": "_share:x"}, "customer id"),
    "integer in an extra field": (_document(extra={"n": 2**63}), "conversation fields"),
}


@pytest.mark.parametrize(("data", "field"), HOSTILE_IMPORTS.values(), ids=HOSTILE_IMPORTS.keys())
def test_hostile_import_names_the_problem_and_changes_nothing(
    manager: ConversationManager, stored: str, data: object, field: str
) -> None:
    before = _snapshot(manager)

    with pytest.raises(InvalidInputError, match=field):
        manager.import_conversations(data)  # type: ignore[arg-type]

    assert _snapshot(manager) == before


@pytest.mark.parametrize("ttl", [2**31, 2**100, 0])
def test_a_ttl_out_of_range_is_refused(manager: ConversationManager, stored: str, ttl: int) -> None:
    with pytest.raises(InvalidInputError, match="ttl"):
        manager.set_conversation_ttl(stored, "alice", ttl)
    assert manager.load_conversation(stored, "alice").ttl is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestamp", datetime(999, 1, 1, tzinfo=UTC)), ("tokens", 2**31), ("name", "\ud800")],
)
def test_built_messages_get_the_limits_of_new_ones(
    manager: ConversationManager, stored: str, field: str, value: object
) -> None:
    before = _snapshot(manager)
    message = Message.model_validate(
        {"id": "m_built", "role": "user", "content": "x", field: value}
    )

    with pytest.raises(InvalidInputError, match=field):
        manager.append_messages(stored, "alice", [message])
    assert _snapshot(manager) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "\ud800"), ("session_id", "\udc00"), ("created_at", datetime(5, 1, 1))],
)
def test_a_saved_conversation_gets_the_limits_of_the_calls(
    manager: ConversationManager, stored: str, field: str, value: object
) -> None:
    before = _snapshot(manager)
    for doc in (
        manager.load_conversation(stored, "alice"),
        manager.create_conversation_document("alice", "s1"),
    ):
        setattr(doc, field, value)
        with pytest.raises(InvalidInputError, match=field):
            manager.save_conversation(doc)
    assert _snapshot(manager) == before


@pytest.mark.capability("editing")
def test_another_customers_conversation_is_not_found(
    manager: ConversationManager, stored: str
) -> None:
    before = _snapshot(manager)
    attempts: list[Callable[[], object]] = [
        lambda: manager.load_conversation(stored, "mallory"),
        lambda: manager.append_message(stored, "mallory", "user", "hi"),
        lambda: manager.rename_conversation(stored, "mallory", "mine"),
        lambda: manager.clear_conversation(stored, "mallory"),
    ]
    for attempt in attempts:
        with pytest.raises(ConversationNotFoundError):
            attempt()
    manager.delete_conversation(stored, "mallory")

    assert _snapshot(manager) == before
    assert manager.get_recent_conversations("mallory").items == []


def test_changing_the_customer_of_a_loaded_conversation_is_refused(
    manager: ConversationManager, stored: str
) -> None:
    before = _snapshot(manager)
    doc = manager.load_conversation(stored, "alice")
    doc.customer_id = "mallory"
    manager.add_message_to_conversation(doc, "user", "moved?")

    with pytest.raises(InvalidInputError):
        manager.save_conversation(doc)
    assert _snapshot(manager) == before


def test_editing_stored_messages_in_memory_is_refused(
    manager: ConversationManager, stored: str
) -> None:
    before = _snapshot(manager)
    doc = manager.load_conversation(stored, "alice")
    doc.messages.pop()

    with pytest.raises(InvalidInputError):
        manager.save_conversation(doc)
    assert _snapshot(manager) == before


def _token(position: object, customer: str = "alice") -> str:
    raw = json.dumps({"v": 1, "c": customer, "p": position}).encode()
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not base64 !",
        "WyJ4Il0=",
        "bnVsbA==",
        _token([]),
        _token([""]),
        _token([1, 2]),
        _token("p"),
        _token(None),
        "\ud800",
        "é",
    ],
)
def test_malformed_continuation_token(manager: ConversationManager, stored: str, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        manager.get_recent_conversations("alice", continuation=bad)


@pytest.mark.parametrize("limit", [0, -1, 101, True, "5"])
def test_bad_listing_limit(manager: ConversationManager, limit: Any) -> None:
    with pytest.raises(InvalidInputError):
        manager.get_recent_conversations("alice", limit=limit)


@pytest.mark.parametrize("title", ["", "   ", "t" * 201, 5])
def test_bad_title(manager: ConversationManager, stored: str, title: Any) -> None:
    with pytest.raises(InvalidInputError):
        manager.rename_conversation(stored, "alice", title)
    assert manager.load_conversation(stored, "alice").title == "kept"


def test_a_continuation_token_of_another_customer_is_refused(manager: ConversationManager) -> None:
    for _ in range(3):
        doc = manager.create_conversation_document("alice", "s1")
        manager.add_message_to_conversation(doc, "user", "hi")
        manager.save_conversation(doc)
    token = manager.get_recent_conversations("alice", limit=1).continuation
    assert token is not None

    with pytest.raises(InvalidInputError):
        manager.get_recent_conversations("mallory", limit=1, continuation=token)
