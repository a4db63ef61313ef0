"""Exactly once across head and segments, and honest outcomes, on the local Cosmos server.

Each test loses responses of writes that landed (the fault transport drops the response after
the server applied the request), or races deletes against writers that seal, and then counts
what is stored.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import (
    ConflictError,
    Conversation,
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    Message,
    StoreUnavailableError,
)
from conversation_store.models import ConversationKey
from conversation_store.stores.cosmos.boundary import RetryPolicy
from conversation_store.stores.cosmos.items import MAX_SEALED_IDS, SizeLimits, json_size
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import FAST_RETRY, TEST_LIMITS, CosmosTarget, open_cosmos_store
from support.transport import Fault, RecordingTransport

pytestmark = pytest.mark.cosmos

BIG = "x" * 1000  # 12 of these cross the 8 KiB test bound
# Enough attempts that 15 % lost responses never exhaust them (0.15**12 per request).
PATIENT_RETRY = RetryPolicy(attempts=12, initial_backoff=0.01, max_backoff=0.05)


def _items(raw: ContainerProxy, customer_id: str, conversation_id: str) -> list[dict[str, Any]]:
    query = "SELECT * FROM c WHERE c.id = @id OR c.conversation_id = @id"
    parameters: list[dict[str, Any]] = [{"name": "@id", "value": conversation_id}]
    return list(raw.query_items(query, parameters=parameters, partition_key=customer_id))


def _head(raw: ContainerProxy, customer_id: str, conversation_id: str) -> dict[str, Any]:
    item: dict[str, Any] = raw.read_item(conversation_id, partition_key=customer_id)
    return item


def _segments(raw: ContainerProxy, customer_id: str, conversation_id: str) -> list[dict[str, Any]]:
    items = _items(raw, customer_id, conversation_id)
    return [item for item in items if item.get("type") == "segment"]


def _generation_of(item: dict[str, Any]) -> str:
    generation: str = item["generation"]
    return generation


def _contents(conversation: Conversation) -> list[str]:
    return [m.content or "" for m in conversation.messages]


# -- lost responses around seals -------------------------------------------------------------


def test_a_create_that_seals_with_its_response_lost_stores_each_message_once(
    cosmos: CosmosStore, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"{n} {BIG}")
    transport.inject(Fault("lose_response", method="POST"))  # the creating batch

    manager.save_conversation(doc)

    assert next(r.fault for r in transport.records if r.batch) == "lose_response"
    loaded = manager.load_conversation(doc.id, "alice")
    assert _contents(loaded) == [f"{n} {BIG}" for n in range(12)]
    assert loaded.message_count == 12
    head = _head(raw, "alice", doc.id)
    sealed = [m["id"] for s in _segments(raw, "alice", doc.id) for m in s["messages"]]
    assert sealed and head["sealed_ids"] == sealed


def test_a_two_message_save_whose_seal_response_was_lost_stores_both_once(
    cosmos: CosmosStore, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "first " + "y" * 2500)
    manager.add_message_to_conversation(doc, "assistant", "second " + "y" * 2500)
    manager.save_conversation(doc)
    manager.add_message_to_conversation(doc, "user", "third " + "z" * 3000)
    manager.add_message_to_conversation(doc, "assistant", "fourth " + "z" * 3000)
    transport.clear()
    transport.inject(Fault("lose_response", method="POST"))  # the sealing batch

    manager.save_conversation(doc)

    lost = [r for r in transport.records if r.fault == "lose_response"]
    assert len(lost) == 1 and lost[0].batch
    sealed = [m["content"][:6] for s in _segments(raw, "alice", doc.id) for m in s["messages"]]
    assert "third " in sealed  # one of the two new messages went into a segment
    loaded = manager.load_conversation(doc.id, "alice")
    assert [c.split(" ")[0] for c in _contents(loaded)] == ["first", "second", "third", "fourth"]
    assert loaded.message_count == 4


def test_four_writers_sealing_with_lost_patch_responses_store_200_of_200(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport
) -> None:
    target, name = cosmos_container
    store = open_cosmos_store(target, name, transport=transport, retry=PATIENT_RETRY)
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    manager.save_conversation(doc)
    lossy = Fault("lose_response", method="PATCH", times=10**6, rate=0.15, seed=13)
    transport.inject(lossy)

    def write(tag: str) -> None:
        for n in range(50):
            manager.append_message(doc.id, "alice", "user", f"{tag}:{n} " + "w" * 300)

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    loaded = manager.load_conversation(doc.id, "alice")
    tags = [c.split(" ")[0] for c in _contents(loaded)]
    assert Counter(tags) == Counter(f"t{t}:{n}" for t in range(4) for n in range(50))
    assert loaded.message_count == 200
    assert lossy.hits >= 20  # about 15 % of some 200 patches lost their response
    assert any(r.batch for r in transport.records)  # seals happened among the losses
    store.close()


def _sealed_ids_of_a_long_create(
    store: CosmosStore, raw: ContainerProxy, customer: str, count: int
) -> tuple[list[str], list[str]]:
    """Create a conversation of `count` messages; its head's sealed ids and every sealed id."""
    manager = ConversationManager(store)
    doc = manager.create_conversation_document(customer, "s1")
    for n in range(count):
        manager.add_message_to_conversation(doc, "user", f"m{n} " + "s" * 300)
    manager.save_conversation(doc)
    sealed = [m["id"] for s in _segments(raw, customer, doc.id) for m in s["messages"]]
    return _head(raw, customer, doc.id)["sealed_ids"], sealed


def test_sealed_ids_keep_the_newest_512_within_an_eighth_of_the_item(
    cosmos_container: tuple[CosmosTarget, str], cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    target, name = cosmos_container
    default_store = open_cosmos_store(target, name, limits=SizeLimits())
    remembered, sealed = _sealed_ids_of_a_long_create(default_store, raw, "alice", 1000)
    assert len(sealed) > MAX_SEALED_IDS
    assert remembered == sealed[-MAX_SEALED_IDS:]
    default_store.close()

    remembered, sealed = _sealed_ids_of_a_long_create(cosmos, raw, "bob", 300)
    assert remembered and remembered == sealed[-len(remembered) :]
    assert json_size(remembered) <= TEST_LIMITS.budget // 8  # a small bound remembers fewer


# -- delete, clear and seal ------------------------------------------------------------------


def _race_delete_against_sealing_appenders(
    manager: ConversationManager, conversation_id: str
) -> int:
    """Three writers append large messages (each seals often) until the conversation is gone;
    it is deleted once they have appended 24 between them. Returns what they appended."""
    appended = Counter[str]()
    enough = threading.Event()
    lock = threading.Lock()

    def write(tag: str) -> None:
        for n in range(1000):
            try:
                manager.append_message(conversation_id, "alice", "user", f"{tag}:{n} {BIG}")
            except ConversationNotFoundError:
                return
            with lock:
                appended[tag] += 1
                if sum(appended.values()) >= 24:
                    enough.set()

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    enough.wait()
    manager.delete_conversation(conversation_id, "alice")
    for thread in threads:
        thread.join()
    return sum(appended.values())


@pytest.mark.parametrize("round_", range(4))
def test_delete_racing_sealing_appenders_leaves_nothing_and_the_id_starts_clean(
    cosmos: CosmosStore, raw: ContainerProxy, round_: int
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = f"c_race{round_}"
    cosmos.create_conversation(Conversation(id=conversation_id, customer_id="alice"))

    assert _race_delete_against_sealing_appenders(manager, conversation_id) >= 24

    assert _items(raw, "alice", conversation_id) == []  # no orphan segment, no head
    cosmos.create_conversation(Conversation(id=conversation_id, customer_id="alice"))
    for n in range(30):  # seals again over the same segment ids, without ConflictError
        manager.append_message(conversation_id, "alice", "user", f"new:{n} {BIG}")
    loaded = manager.load_conversation(conversation_id, "alice")
    assert [c.split(" ")[0] for c in _contents(loaded)] == [f"new:{n}" for n in range(30)]
    assert _segments(raw, "alice", conversation_id)


def test_segments_of_a_dead_generation_are_never_shown_and_are_overwritten(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    """A crash between the head's delete and its segments' leaves orphans under the same ids
    a new conversation of that id will seal into."""
    manager = ConversationManager(cosmos)
    old = Conversation(
        id="c_reused",
        customer_id="alice",
        messages=[
            Message(id=f"m_old{n}", role="user", content=f"old:{n} {BIG}") for n in range(20)
        ],
    )
    cosmos.create_conversation(old)
    orphans = _segments(raw, "alice", "c_reused")
    old_head = _head(raw, "alice", "c_reused")
    raw.delete_item("c_reused", partition_key="alice")  # the crash: only the head is gone

    cosmos.create_conversation(Conversation(id="c_reused", customer_id="alice"))
    assert manager.load_conversation("c_reused", "alice").messages == []
    for n in range(20):
        manager.append_message("c_reused", "alice", "user", f"new:{n} {BIG}")

    loaded = manager.load_conversation("c_reused", "alice")
    assert [c.split(" ")[0] for c in _contents(loaded)] == [f"new:{n}" for n in range(20)]
    assert manager.search_conversations("alice", "old") == []
    generation = _head(raw, "alice", "c_reused")["generation"]
    assert {s["generation"] for s in orphans} == {_generation_of(old_head)}
    assert _generation_of(old_head) != generation
    current = {
        s["id"] for s in _segments(raw, "alice", "c_reused") if s["generation"] == generation
    }
    assert current & {s["id"] for s in orphans}  # sealed over the orphans' ids


def test_clear_after_its_response_was_lost_succeeds_and_drops_the_old_segments(
    cosmos: CosmosStore, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"{n} {BIG}")
    manager.save_conversation(doc)
    assert _segments(raw, "alice", doc.id)
    transport.inject(Fault("lose_response", method="PUT"))  # the head's replace

    manager.clear_conversation(doc.id, "alice")

    assert next(r.fault for r in transport.records if r.method == "PUT") == "lose_response"
    assert manager.load_conversation(doc.id, "alice").messages == []
    assert _segments(raw, "alice", doc.id) == []
    manager.append_message(doc.id, "alice", "user", "after clear")
    assert _contents(manager.load_conversation(doc.id, "alice")) == ["after clear"]


def test_a_delete_whose_segment_deletes_fail_reports_success_and_the_sweep_removes_them(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport, raw: ContainerProxy
) -> None:
    target, name = cosmos_container
    store = open_cosmos_store(
        target, name, transport=transport, retry=FAST_RETRY, orphan_grace_seconds=0
    )
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"{n} {BIG}")
    manager.save_conversation(doc)
    transport.inject(Fault("status", method="POST", status=503, times=99, batches_only=True))

    manager.delete_conversation(doc.id, "alice")  # the head is gone: the delete happened

    with pytest.raises(ConversationNotFoundError):
        manager.load_conversation(doc.id, "alice")
    assert _segments(raw, "alice", doc.id)  # dead: no head
    transport.clear()
    time.sleep(1.1)  # `_ts` counts whole seconds: the sweep takes segments older than now
    assert store.delete_orphans(customer_id="alice") == 1
    assert _items(raw, "alice", doc.id) == []
    store.close()


def test_create_and_delete_after_their_response_was_lost_report_success(
    cosmos: CosmosStore, transport: RecordingTransport
) -> None:
    conversation = Conversation(
        id="c_lost", customer_id="alice", messages=[Message(id="m1", role="user", content="hi")]
    )
    transport.inject(Fault("lose_response", method="POST"))

    stored = cosmos.create_conversation(conversation)

    assert [m.content for m in stored.messages] == ["hi"]
    with pytest.raises(ConflictError):  # another conversation under that id is still refused
        cosmos.create_conversation(Conversation(id="c_lost", customer_id="alice"))
    transport.inject(Fault("lose_response", method="DELETE"))
    cosmos.delete_conversation(ConversationKey("alice", "c_lost"))
    with pytest.raises(ConversationNotFoundError):
        cosmos.get_conversation(ConversationKey("alice", "c_lost"))


def test_a_head_of_the_layout_before_generations_loads_and_is_upgraded_once(
    cosmos: CosmosStore, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    def message(n: int) -> dict[str, Any]:
        return {"id": f"m_{n}", "role": "user", "content": f"old {n}", "timestamp": stamp}

    stamp = "2025-01-24T10:30:00.000000Z"
    head = {"id": "c_old", "type": "conversation", "schema_version": 1, "customer_id": "alice"}
    head |= {"created_at": stamp, "updated_at": stamp, "metadata": {}, "message_count": 3}
    head |= {"total_tokens": 0, "segment_count": 1, "pinned_system": False, "head_bytes": 600}
    raw.create_item({**head, "messages": [message(1), message(2)]})
    segment = {"id": "c_old:0", "type": "segment", "customer_id": "alice", "number": 0}
    raw.create_item({**segment, "conversation_id": "c_old", "messages": [message(0)]})
    manager = ConversationManager(cosmos)

    manager.append_message("c_old", "alice", "user", "new 3")  # rewrites the head once
    transport.clear()
    manager.append_message("c_old", "alice", "user", "new 4")

    # Item requests only: the SDK may refresh its partition-key-range map (GET /pkranges).
    assert [r.method for r in transport.records if "/docs" in r.url] == ["PATCH"]
    loaded = manager.load_conversation("c_old", "alice")
    assert _contents(loaded) == ["old 0", "old 1", "old 2", "new 3", "new 4"]
    assert _head(raw, "alice", "c_old")["sealed_ids"] == []


# -- internal items are not conversations ----------------------------------------------------


def test_a_segment_can_never_be_read_or_written_as_a_conversation(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"{n} {BIG}")
    manager.save_conversation(doc)
    segment_id = f"{doc.id}:0"
    before = raw.read_item(segment_id, partition_key="alice")

    with pytest.raises(InvalidInputError):
        manager.append_message(segment_id, "alice", "user", "overwrite?")
    key = ConversationKey("alice", segment_id)
    extra = Message(id="m_x", role="user", content="overwrite?")
    for call in (
        lambda: cosmos.get_conversation(key),
        lambda: cosmos.append_messages(key, [extra]),
        lambda: cosmos.clear_messages(key),
    ):
        with pytest.raises(ConversationNotFoundError):
            call()
    cosmos.delete_conversation(key)

    after = raw.read_item(segment_id, partition_key="alice")
    assert after["messages"] == before["messages"] and after["_etag"] == before["_etag"]
    assert len(manager.load_conversation(doc.id, "alice").messages) == 12


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(RetryPolicy(max_total_seconds=3.0), id="3s"),
        pytest.param(RetryPolicy(), marks=pytest.mark.soak, id="default-20s"),
    ],
)
def test_long_retry_after_never_keeps_a_call_past_the_policy_limit(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport, policy: RetryPolicy
) -> None:
    target, name = cosmos_container
    store = open_cosmos_store(target, name, transport=transport, retry=policy)
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    manager.save_conversation(doc)
    # Every read of this item is throttled (the SDK's own background GETs of the account are
    # not), so the call can only end by giving up.
    throttle = Fault(
        "status",
        method="GET",
        url_contains=f"/docs/{doc.id}",
        status=429,
        times=1_000,
        headers={"x-ms-retry-after-ms": "60000"},
    )
    transport.inject(throttle)

    started = time.monotonic()
    with pytest.raises(StoreUnavailableError):
        manager.load_conversation(doc.id, "alice")
    elapsed = time.monotonic() - started

    # A correctness bound of the deadline (waits cut to the time left), not a performance one.
    assert elapsed <= policy.max_total_seconds + 2
    assert throttle.hits >= 2  # it did retry, with each wait cut to the time left
    store.close()
