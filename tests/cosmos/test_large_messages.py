"""Cosmos DB, large messages at the default 256 KiB head bound, on the local server.

A message too big for the head goes into a segment item of its own in the append that brings
it: one transactional batch with the head's ETag-checked replace, so it commits whole or not
at all, and a retry finds its id among the head's sealed ids. The head keeps its bound, no
request passes Cosmos DB's 2 MB limit (the local server does not enforce it, so the recorded
request sizes are checked), loads return the message whole, and a history window reads its
segment only when the message is inside the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import ConversationManager, InvalidInputError, Message
from conversation_store.stores.cosmos.items import (
    COSMOS_REQUEST_LIMIT,
    MAX_ITEM_BYTES,
    MAX_MESSAGE_BYTES,
    SizeLimits,
    json_size,
)
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import FAST_RETRY, CosmosTarget, open_cosmos_store
from support.transport import Fault, RecordingTransport

LIMITS = SizeLimits()
CUSTOMER = "alice"


@pytest.fixture
def store(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport
) -> Iterator[CosmosStore]:
    target, name = cosmos_container
    store = open_cosmos_store(target, name, transport=transport, retry=FAST_RETRY, limits=LIMITS)
    yield store
    store.close()


@pytest.fixture
def manager(store: CosmosStore) -> ConversationManager:
    return ConversationManager(store)


def message_of(json_bytes: int, message_id: str, role: str = "tool") -> Message:
    """A message whose JSON, as stored, takes exactly `json_bytes`."""
    empty = Message(id=message_id, role="user", content="")
    if role != "user":
        empty = Message(id=message_id, role="assistant", content="")
    base = json_size(empty.model_dump(mode="json"))
    return empty.model_copy(update={"content": "x" * (json_bytes - base)})


def largest(message_id: str) -> Message:
    return message_of(MAX_MESSAGE_BYTES, message_id)


def conversation(manager: ConversationManager, *, system: str = "Be brief.") -> str:
    doc = manager.create_conversation_document(CUSTOMER, "s1")
    manager.add_message_to_conversation(doc, "system", system)
    conversation_id = manager.save_conversation(doc).id
    manager.append_messages(
        conversation_id, CUSTOMER, [Message(id="m_hello", role="user", content="hello")]
    )
    return conversation_id


def items_of(raw: ContainerProxy) -> list[dict[str, Any]]:
    query = "SELECT * FROM c WHERE c.customer_id = @c"
    parameters: list[dict[str, object]] = [{"name": "@c", "value": CUSTOMER}]
    return list(raw.query_items(query, parameters=parameters, partition_key=CUSTOMER))


def segment_messages(raw: ContainerProxy) -> list[list[str]]:
    """The ids of the messages in each segment, in segment order."""
    segments = sorted(
        (i for i in items_of(raw) if i.get("type") == "segment"), key=lambda s: int(s["number"])
    )
    return [[m["id"] for m in s["messages"]] for s in segments]


def head_of(raw: ContainerProxy, conversation_id: str) -> dict[str, Any]:
    return next(i for i in items_of(raw) if i["id"] == conversation_id)


def assert_within_limits(raw: ContainerProxy, transport: RecordingTransport) -> None:
    """Every request under 2 MB; every head within its bound; segments within one item."""
    assert max(r.request_bytes for r in transport.records) <= COSMOS_REQUEST_LIMIT
    for item in items_of(raw):
        size = json_size({k: v for k, v in item.items() if not k.startswith("_")})
        if item.get("type") == "conversation":
            assert size <= LIMITS.budget, item["id"]
        else:
            assert size <= 2 * 1024 * 1024 - 256, item["id"]


def test_a_message_too_big_for_the_head_goes_into_a_segment_of_its_own_in_one_batch(
    manager: ConversationManager, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    conversation_id = conversation(manager)
    transport.clear()

    manager.append_messages(conversation_id, CUSTOMER, [largest("m_big")])

    writes = [r for r in transport.records if "/docs" in r.url]
    assert [(r.method, r.batch) for r in writes] == [("GET", False), ("POST", True)]
    assert segment_messages(raw) == [["m_hello"], ["m_big"]]
    head = head_of(raw, conversation_id)
    assert "m_big" in head["sealed_ids"]
    assert_within_limits(raw, transport)
    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert loaded.messages[-1] == largest("m_big").model_copy(
        update={"timestamp": loaded.messages[-1].timestamp, "tokens": loaded.messages[-1].tokens}
    )
    assert loaded.message_count == 3


def test_a_window_reads_the_large_segment_only_when_the_message_is_inside_it(
    manager: ConversationManager, transport: RecordingTransport
) -> None:
    conversation_id = conversation(manager)
    manager.append_messages(conversation_id, CUSTOMER, [largest("m_big")])
    manager.append_message(conversation_id, CUSTOMER, "assistant", "short answer")
    transport.clear()

    newest = manager.load_conversation(conversation_id, CUSTOMER, last=1).messages
    outside = sum(r.response_bytes for r in transport.records)
    transport.clear()
    with_it = manager.load_conversation(conversation_id, CUSTOMER, last=2).messages
    inside = sum(r.response_bytes for r in transport.records)

    assert [m.text for m in newest] == ["Be brief.", "short answer"]
    assert outside < 100_000
    assert [m.id for m in with_it][1] == "m_big" and inside > MAX_MESSAGE_BYTES


def test_several_large_messages_in_one_call_each_take_a_segment_in_order(
    manager: ConversationManager, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    conversation_id = conversation(manager)
    big = [largest(f"m_bi{n}") for n in range(3)]
    transport.clear()

    small = Message(id="m_small", role="user", content="s")
    manager.append_messages(conversation_id, CUSTOMER, [big[0], small, *big[1:]])

    assert_within_limits(raw, transport)
    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert [m.id for m in loaded.messages][2:] == ["m_bi0", "m_small", "m_bi1", "m_bi2"]
    assert all(len(m.text) == len(b.text) for m, b in zip(loaded.messages[2::2], big, strict=False))


def test_a_seal_whose_answer_is_lost_is_retried_without_a_duplicate(
    manager: ConversationManager, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    conversation_id = conversation(manager)
    transport.inject(Fault("lose_response", method="POST", batches_only=True))

    manager.append_messages(conversation_id, CUSTOMER, [largest("m_big")])

    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert [m.id for m in loaded.messages].count("m_big") == 1
    assert loaded.message_count == len(loaded.messages) == 3
    assert sum(r.fault == "lose_response" for r in transport.records) == 1


def test_a_head_an_older_version_left_over_the_bound_is_sealed_before_the_next_large_append(
    manager: ConversationManager, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    """Before this version the newest message always stayed in the head, so a head could hold a
    1.5 MB message; appending another must not send both in one batch."""
    conversation_id = conversation(manager)
    head = head_of(raw, conversation_id)
    old = largest("m_old").model_dump(mode="json")
    messages = [*head["messages"], old]
    body = {k: v for k, v in head.items() if not k.startswith("_")}
    body |= {"messages": messages, "message_count": 3}
    body["head_bytes"] = json_size(body) + 16
    raw.replace_item(conversation_id, body)
    transport.clear()

    manager.append_messages(conversation_id, CUSTOMER, [largest("m_new")])

    assert max(r.request_bytes for r in transport.records) <= COSMOS_REQUEST_LIMIT
    assert json_size(head_of(raw, conversation_id)) <= LIMITS.item_bytes
    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert [m.id for m in loaded.messages][-2:] == ["m_old", "m_new"]
    assert loaded.message_count == len(loaded.messages) == 4


def test_a_pinned_prompt_that_leaves_no_room_for_the_message_is_refused_and_nothing_changes(
    manager: ConversationManager, raw: ContainerProxy
) -> None:
    conversation_id = conversation(manager, system="p" * 1_000_000)
    before = manager.load_conversation(conversation_id, CUSTOMER)

    with pytest.raises(InvalidInputError, match="at most 2097152 bytes in one request"):
        manager.append_messages(conversation_id, CUSTOMER, [largest("m_big")])

    after = manager.load_conversation(conversation_id, CUSTOMER)
    assert after.messages == before.messages and after.message_count == 2


def test_a_head_bound_too_large_for_the_largest_message_is_refused() -> None:
    assert SizeLimits(item_bytes=MAX_ITEM_BYTES).chunk_bytes >= MAX_MESSAGE_BYTES
    with pytest.raises(ValueError, match="item_bytes must be between"):
        SizeLimits(item_bytes=MAX_ITEM_BYTES + 1)
