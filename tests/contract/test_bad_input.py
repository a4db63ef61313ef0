"""Bad input raises a typed error and leaves every stored byte as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
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


@pytest.mark.parametrize("bad", ["", "not base64 !", "WyJ4Il0=", "bnVsbA=="])
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
