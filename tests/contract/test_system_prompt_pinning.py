"""A system prompt added to an empty conversation, by append rather than at create, stays
pinned on every backend: windows keep it after many later messages (on Cosmos DB, after
older messages are sealed into segments), and a full load still has every message in order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from conversation_store import ConversationManager, Message

PROMPT = "You are a careful assistant."
TURNS = 80  # 300-character messages: past the Cosmos test item bound several times over


def _empty(manager: ConversationManager, customer: str) -> str:
    return manager.save_conversation(manager.create_conversation_document(customer, "s1")).id


def _bodies() -> list[tuple[str, str]]:
    roles = ("user", "assistant")
    return [(roles[i % 2], f"{i:03d} " + "x" * 296) for i in range(TURNS)]


def _one_by_one(manager: ConversationManager, conversation_id: str, customer: str) -> None:
    manager.append_message(conversation_id, customer, "system", PROMPT)
    for role, content in _bodies():
        manager.append_message(conversation_id, customer, role, content)


def _in_batches(manager: ConversationManager, conversation_id: str, customer: str) -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    bodies = [("system", PROMPT), *_bodies()]
    messages = [
        Message(id=f"m_pin_{i:03d}", role=role, content=content, timestamp=when)
        for i, (role, content) in enumerate(bodies)
    ]
    for start in range(0, len(messages), 20):
        manager.append_messages(conversation_id, customer, messages[start : start + 20])


def _after_clear(manager: ConversationManager, conversation_id: str, customer: str) -> None:
    manager.append_message(conversation_id, customer, "user", "before the clear")
    manager.clear_conversation(conversation_id, customer)
    _one_by_one(manager, conversation_id, customer)


Fill = Callable[[ConversationManager, str, str], None]


@pytest.mark.parametrize("fill", [_one_by_one, _in_batches, _after_clear])
def test_appended_system_prompt_is_pinned(manager: ConversationManager, fill: Fill) -> None:
    customer = f"cust-{uuid.uuid4().hex[:12]}"
    conversation_id = _empty(manager, customer)
    fill(manager, conversation_id, customer)
    expected = [("system", PROMPT), *_bodies()]

    history = manager.get_history(conversation_id, customer, max_messages=5)
    assert [(m.role, m.content) for m in history] == [expected[0], *expected[-4:]]
    tail = manager.load_conversation(conversation_id, customer, last=3).messages
    assert [(m.role, m.content) for m in tail] == [expected[0], *expected[-3:]]
    loaded = manager.load_conversation(conversation_id, customer).messages
    assert [(m.role, m.content) for m in loaded] == expected
