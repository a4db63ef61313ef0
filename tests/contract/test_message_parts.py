"""Issue 15 contract, message model v2 on every backend: typed content parts, role `developer`,
empty content, reasoning and event items, `raw`, large messages and hostile input.

Every backend stores and loads the same v2 messages unchanged; the per-message limit is the
manager's `max_content_bytes` (4 MiB by default), and Cosmos DB refuses, before any write, a
message over its own bound (`stores.cosmos.items.MAX_MESSAGE_BYTES`) with an error naming it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    ConversationStore,
    CosmosStore,
    InvalidInputError,
    Message,
)
from conversation_store.history import as_chat_messages
from conversation_store.stores.cosmos.items import MAX_MESSAGE_BYTES
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES, json_bytes

PNG_200KB = "data:image/png;base64," + base64.b64encode(bytes(150_000)).decode()
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
PARTS: list[dict[str, Any]] = [
    {"type": "text", "text": "Describe both, please."},
    {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}},
    {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "x"},
    },
]


def _conversation(manager: ConversationManager) -> str:
    return manager.save_conversation(manager.create_conversation_document("alice", "s1")).id


def _agent_turn() -> list[Message]:
    items: list[dict[str, Any]] = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": PARTS},
        {
            "role": "assistant",
            "kind": "reasoning",
            "raw": {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted": "abc=="},
        },
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "tool", "content": "", "tool_call_id": "call_1"},
        {"role": "user", "kind": "event", "metadata": {"event": "upload", "bytes": 1024}},
        {
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I cannot read that file."}],
            "raw": {"type": "message", "content": [{"type": "refusal", "refusal": "..."}]},
        },
    ]
    return [Message.model_validate({"id": f"m_{n}", **item}) for n, item in enumerate(items)]


def _documents(messages: list[Message]) -> list[str]:
    return [json.dumps(m.model_dump(mode="json"), ensure_ascii=False) for m in messages]


def test_v2_messages_come_back_unchanged(manager: ConversationManager) -> None:
    conversation_id = _conversation(manager)
    turn = _agent_turn()

    manager.append_messages(conversation_id, "alice", turn)
    loaded = manager.load_conversation(conversation_id, "alice")

    assert _documents(loaded.messages) == _documents(turn)
    assert loaded.schema_version == 2 and loaded.message_count == len(turn)


def test_reasoning_and_event_items_stay_stored_but_out_of_history(
    manager: ConversationManager,
) -> None:
    conversation_id = _conversation(manager)
    manager.append_messages(conversation_id, "alice", _agent_turn())

    whole = manager.get_history(conversation_id, "alice")
    budget = manager.get_history(conversation_id, "alice", max_tokens=100_000)
    newest = manager.get_history(conversation_id, "alice", max_messages=3)

    chat_ids = ["m_0", "m_1", "m_3", "m_4", "m_6"]
    assert [m.id for m in whole] == [m.id for m in budget] == chat_ids
    assert [m.id for m in newest] == ["m_3", "m_4", "m_6"]
    assert [c["role"] for c in as_chat_messages(whole)] == [
        "developer",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_a_large_tool_output_and_a_large_inline_image_are_stored(
    manager: ConversationManager,
) -> None:
    conversation_id = _conversation(manager)
    manager.append_message(conversation_id, "alice", "assistant", None, tool_calls=[CALL])
    manager.append_message(
        conversation_id, "alice", "tool", "r" * (120 * 1024), tool_call_id="call_1"
    )
    image = [{"type": "image_url", "image_url": {"url": PNG_200KB}}]
    manager.append_message(conversation_id, "alice", "user", image)  # type: ignore[arg-type]

    loaded = manager.load_conversation(conversation_id, "alice")

    assert len(loaded.messages[1].text) == 120 * 1024
    assert loaded.messages[2].model_dump(mode="json")["content"] == image


def _message_of_json_bytes(size: int, message_id: str) -> Message:
    """A user message whose JSON (as the stores write it) is exactly `size` bytes."""
    empty = Message(id=message_id, role="user", content="")
    padding = size - json_bytes(empty.model_dump(mode="json"))
    return Message(id=message_id, role="user", content="x" * padding, timestamp=empty.timestamp)


def _largest_accepted(store: ConversationStore) -> int:
    """The largest message JSON this backend takes: Cosmos DB's bound, else the JSON of a
    message whose content is exactly the manager's limit (ids of 5 characters)."""
    if isinstance(store, CosmosStore):
        return MAX_MESSAGE_BYTES
    empty = Message(id="m_big", role="user", content="")
    return json_bytes(empty.model_dump(mode="json")) + DEFAULT_MAX_CONTENT_BYTES


def test_the_largest_message_is_stored_and_one_byte_more_is_refused_naming_the_limit(
    manager: ConversationManager, store: ConversationStore
) -> None:
    conversation_id = _conversation(manager)
    largest = _largest_accepted(store)
    limit = "Cosmos DB stores at most" if isinstance(store, CosmosStore) else "the limit is"

    manager.append_messages(conversation_id, "alice", [_message_of_json_bytes(largest, "m_big")])
    with pytest.raises(InvalidInputError, match=limit):
        manager.append_messages(
            conversation_id, "alice", [_message_of_json_bytes(largest + 1, "m_ovr")]
        )

    loaded = manager.load_conversation(conversation_id, "alice")
    assert [m.id for m in loaded.messages] == ["m_big"]
    assert json_bytes(loaded.messages[0].model_dump(mode="json")) == largest


def test_a_conversation_keeps_growing_after_its_largest_messages(
    manager: ConversationManager, store: ConversationStore
) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "system", "Be brief.")
    conversation_id = manager.save_conversation(doc).id
    big = [_message_of_json_bytes(_largest_accepted(store), f"m_bi{n}") for n in range(2)]
    for number, message in enumerate(big):
        manager.append_messages(conversation_id, "alice", [message])
        manager.append_message(conversation_id, "alice", "assistant", f"ok {number}")

    loaded = manager.load_conversation(conversation_id, "alice")
    newest = manager.get_history(conversation_id, "alice", max_messages=3)

    assert [m.text[:4] for m in loaded.messages] == ["Be b", "xxxx", "ok 0", "xxxx", "ok 1"]
    assert _documents([loaded.messages[1], loaded.messages[3]]) == _documents(big)
    assert [m.text[:4] for m in newest] == ["Be b", "xxxx", "ok 1"]


def test_a_new_conversation_with_a_message_over_the_bound_is_not_created(
    manager: ConversationManager, store: ConversationStore
) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    doc.messages.append(_message_of_json_bytes(_largest_accepted(store) + 1, "m_ovr"))

    with pytest.raises(InvalidInputError):
        manager.save_conversation(doc)

    assert manager.get_recent_conversations("alice").items == []


HOSTILE_CONTENT: dict[str, object] = {
    "lone surrogate in a part": [{"type": "text", "text": "a\udc00"}],
    "unknown part type": [{"type": "input_text", "text": "hi"}],
    "huge integer in a part": [{"type": "text", "text": "a", "n": 10**20}],
    "NaN in a part": [{"type": "text", "text": "a", "n": float("nan")}],
    "deep part": [{"type": "text", "text": "a", "deep": json.loads("[" * 60 + "]" * 60)}],
    "image without base64": [{"type": "image_url", "image_url": {"url": "data:,x"}}],
    "no parts": [],
}
HOSTILE_RAW: dict[str, object] = {
    "lone surrogate": {"text": "\ud800"},
    "huge integer": 2**64,
    "infinity": [float("inf")],
    "deep": json.loads("[" * 60 + "]" * 60),
    "over the limit": "r" * (DEFAULT_MAX_CONTENT_BYTES + 1),
}


@pytest.mark.parametrize("content", HOSTILE_CONTENT.values(), ids=list(HOSTILE_CONTENT))
def test_hostile_content_is_refused_and_the_store_is_unchanged(
    manager: ConversationManager, content: object
) -> None:
    conversation_id = _conversation(manager)
    manager.append_message(conversation_id, "alice", "user", "before")

    with pytest.raises(InvalidInputError):
        manager.append_message(conversation_id, "alice", "user", content)  # type: ignore[arg-type]

    assert [m.text for m in manager.load_conversation(conversation_id, "alice").messages] == [
        "before"
    ]


@pytest.mark.parametrize("raw", HOSTILE_RAW.values(), ids=list(HOSTILE_RAW))
def test_hostile_raw_is_refused_and_the_store_is_unchanged(
    manager: ConversationManager, raw: object
) -> None:
    conversation_id = _conversation(manager)
    built = Message(id="m_raw", role="user", content="x", raw=raw)

    with pytest.raises(InvalidInputError):
        manager.append_messages(conversation_id, "alice", [built])

    assert manager.load_conversation(conversation_id, "alice").messages == []


def test_an_import_of_v2_documents_validates_parts_and_stores_them_whole(
    manager: ConversationManager,
) -> None:
    doc = manager.create_conversation_document("alice", "s1", conversation_id="c_imported")
    doc.messages.extend(_agent_turn())
    good = doc.to_document()
    bad = json.loads(json.dumps(good))
    bad["id"] = "c_bad"
    bad["messages"][1]["content"][1] = {"type": "image_url", "image_url": {"url": "nope"}}

    with pytest.raises(InvalidInputError):
        manager.import_conversations(json.dumps([good, bad]), customer_id="alice")
    assert manager.get_recent_conversations("alice").items == []

    manager.import_conversations(json.dumps(good), customer_id="alice")
    loaded = manager.load_conversation("c_imported", "alice")
    assert _documents(loaded.messages) == _documents(doc.messages)
