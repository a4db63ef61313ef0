"""Cosmos-specific behaviour of CosmosStore, against the local Cosmos-compatible server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import (
    AccessDeniedError,
    ConversationManager,
    ConversationNotFoundError,
    StoreUnavailableError,
)
from conversation_store.stores.cosmos.boundary import RequestCharge
from conversation_store.stores.cosmos.items import json_size
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import FAST_RETRY, TEST_LIMITS
from support.transport import Fault, RecordingTransport

pytestmark = pytest.mark.cosmos


def _items(raw: ContainerProxy, customer_id: str) -> list[dict[str, Any]]:
    return list(raw.query_items("SELECT * FROM c", partition_key=customer_id))


def _chat(manager: ConversationManager, messages: int, customer: str = "alice") -> str:
    doc = manager.create_conversation_document(customer, "s1")
    manager.add_message_to_conversation(doc, "system", "You are terse.")
    manager.save_conversation(doc)
    for n in range(messages):
        manager.append_message(
            doc.id,
            customer,
            "user" if n % 2 == 0 else "assistant",
            f"message {n} " + "lorem ipsum " * 10,
        )
    return doc.id


def test_append_is_one_patch_whose_size_does_not_grow_with_the_conversation(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 0)
    sizes = []
    for n in range(300):
        transport.clear()
        manager.append_message(conversation_id, "alice", "user", "same size text " + f"{n:04}")
        if n in (0, 299):
            sizes.append([(r.method, r.request_bytes) for r in transport.records])
    first, last = sizes
    assert [method for method, _ in first] == ["PATCH"]
    # After sealing there may be an occasional extra read+batch, but the 300th is plain again.
    assert [method for method, _ in last] == ["PATCH"]
    assert abs(last[0][1] - first[0][1]) <= 8  # only counters' digits may differ


def test_no_item_ever_exceeds_the_bound_and_full_load_is_in_order(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 400)

    items = _items(raw, "alice")
    segments = [i for i in items if i.get("type") == "segment"]
    assert len(segments) >= 3
    assert max(json_size(item) for item in items) <= TEST_LIMITS.item_bytes
    loaded = manager.load_conversation(conversation_id, "alice")
    assert [m.content for m in loaded.messages][1:3] == [
        "message 0 " + "lorem ipsum " * 10,
        "message 1 " + "lorem ipsum " * 10,
    ]
    assert loaded.messages[0].role == "system"
    assert len(loaded.messages) == loaded.message_count == 401
    assert [m.content.split()[1] for m in loaded.messages[1:] if m.content] == [
        str(n) for n in range(400)
    ]


def test_recent_window_reads_the_head_only(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 300)
    transport.clear()

    window = manager.get_history(conversation_id, "alice", max_messages=6)

    assert [r.method for r in transport.records] == ["GET"]
    assert window[0].content == "You are terse."  # the pinned system prompt
    assert window[-1].content is not None and window[-1].content.startswith("message 299 ")


@pytest.mark.parametrize("count", [2_000, pytest.param(10_000, marks=pytest.mark.soak)])
def test_a_long_conversation_saved_at_once(
    cosmos: CosmosStore, raw: ContainerProxy, count: int
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    manager.save_conversation(doc)
    for n in range(count):
        manager.add_message_to_conversation(doc, "user", f"m{n}")
    manager.save_conversation(doc)

    loaded = manager.load_conversation(doc.id, "alice")
    assert [m.content for m in loaded.messages] == [f"m{n}" for n in range(count)]
    assert max(json_size(item) for item in _items(raw, "alice")) <= TEST_LIMITS.item_bytes
    assert [m.content for m in manager.get_history(doc.id, "alice", max_messages=2)] == [
        f"m{count - 2}",
        f"m{count - 1}",
    ]


def test_seed_document_written_by_the_original_bot_loads_and_grows(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    seed = {
        "id": "legacy-1",
        "customer_id": "user_123",
        "session_id": "abc",
        "created_at": "2025-01-24T10:30:00Z",
        "updated_at": "2025-01-24T10:35:00Z",
        "messages": [{"role": "user", "content": "Hello", "timestamp": "2025-01-24T10:30:00Z"}],
    }
    raw.upsert_item(seed)
    manager = ConversationManager(cosmos)

    assert manager.get_recent_conversations("user_123").items[0].id == "legacy-1"
    manager.append_message("legacy-1", "user_123", "assistant", "Hi!")
    manager.rename_conversation("legacy-1", "user_123", "Old chat")
    doc = manager.load_conversation("legacy-1", "user_123")
    doc.metadata["migrated"] = True
    manager.save_conversation(doc)

    loaded = manager.load_conversation("legacy-1", "user_123")
    assert [m.content for m in loaded.messages] == ["Hello", "Hi!"]
    assert (loaded.title, loaded.metadata, loaded.message_count) == (
        "Old chat",
        {"migrated": True},
        2,
    )


def test_items_live_in_their_customers_partition(cosmos: CosmosStore, raw: ContainerProxy) -> None:
    manager = ConversationManager(cosmos)
    _chat(manager, 200, customer="alice")
    _chat(manager, 3, customer="bob")

    assert {i["customer_id"] for i in _items(raw, "alice")} == {"alice"}
    assert {i["customer_id"] for i in _items(raw, "bob")} == {"bob"}
    listing = manager.get_recent_conversations("bob")
    assert len(listing.items) == 1  # segments are never listed as conversations


def test_retry_after_a_lost_response_does_not_duplicate(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 2)
    transport.inject(Fault("lose_response", method="PATCH"))

    result = manager.append_message(conversation_id, "alice", "user", "exactly once")

    loaded = manager.load_conversation(conversation_id, "alice")
    assert [m.content for m in loaded.messages].count("exactly once") == 1
    assert loaded.message_count == 4
    assert result.message_ids == [loaded.messages[-1].id]


def test_throttling_is_retried_after_the_time_the_server_asks(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 1)
    transport.inject(
        Fault("status", method="PATCH", status=429, times=3, headers={"x-ms-retry-after-ms": "20"})
    )

    manager.append_message(conversation_id, "alice", "user", "after throttling")

    statuses = [r.status for r in transport.records if r.method == "PATCH"]
    assert statuses[-4:] == [429, 429, 429, 200]
    assert manager.load_conversation(conversation_id, "alice").messages[-1].content == (
        "after throttling"
    )


# Item reads only: the SDK's own background GETs (account, health checks) are left alone,
# so they never take a fault meant for the call.
ITEM = "/docs/"
UNAVAILABLE = StoreUnavailableError


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("status", method="GET", url_contains=ITEM, status=503, times=99), UNAVAILABLE),
        (
            Fault(
                "status",
                method="GET",
                url_contains=ITEM,
                status=429,
                times=99,
                headers={"x-ms-retry-after-ms": "1"},
            ),
            UNAVAILABLE,
        ),
        (Fault("refuse", method="GET", url_contains=ITEM, times=99), UNAVAILABLE),
        (Fault("status", method="GET", url_contains=ITEM, status=403), AccessDeniedError),
    ],
    ids=["503", "429", "connection", "403"],
)
def test_a_fault_is_never_reported_as_not_found_or_empty(
    cosmos: CosmosStore, transport: RecordingTransport, fault: Fault, error: type[Exception]
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 1)
    transport.inject(fault)

    with pytest.raises(error) as raised:
        manager.load_conversation(conversation_id, "alice")

    assert not isinstance(raised.value, ConversationNotFoundError)
    attempts = sum(1 for r in transport.records if r.fault is not None)
    assert attempts == (FAST_RETRY.attempts if error is StoreUnavailableError else 1)


def test_request_charge_is_reported_per_operation(
    cosmos: CosmosStore, charges: list[RequestCharge]
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _chat(manager, 1)
    charges.clear()
    manager.append_message(conversation_id, "alice", "user", "hi")
    manager.load_conversation(conversation_id, "alice")
    manager.get_recent_conversations("alice")

    assert [c.operation for c in charges] == ["append", "read", "list"]
    assert all(c.request_units >= 0 for c in charges)


def test_listing_carries_no_message_bodies(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    secret = "the body text that must not be listed"
    for _ in range(3):
        doc = manager.create_conversation_document("alice", "s1")
        manager.add_message_to_conversation(doc, "user", secret)
        manager.save_conversation(doc)
    transport.clear()

    page = manager.get_recent_conversations("alice", limit=20)

    assert len(page.items) == 3
    # One query of the items; the SDK may first refresh its partition-key-range map (a GET of
    # /pkranges, not of an item), which depends on its cache, not on the store.
    assert [r.method for r in transport.records if "/docs" in r.url] == ["POST"]
    assert "messages" not in json.dumps([s.model_dump(mode="json") for s in page.items])
    assert all(r.response_bytes < 2_000 for r in transport.records)
