"""Issue 15 on Cosmos DB: the requests each message operation costs, counted on the wire, and
the pop's exactly-once answer when its write lands but the response is lost.

The store runs with 8 KiB items (`TEST_LIMITS`): the long conversations here have segments.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import ConversationManager
from conversation_store.ids import new_message_id
from conversation_store.models import Message
from conversation_store.stores.cosmos import items as docs
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import TEST_LIMITS
from support.transport import Fault, RecordingTransport

CUSTOMER = "alice"


def _messages(count: int, size: int = 300) -> list[Message]:
    return [
        Message(id=new_message_id(), role="user", content=f"m{n} " + "x" * size, tokens=1)
        for n in range(count)
    ]


def _requests(transport: RecordingTransport, call: Callable[[], object]) -> list[str]:
    """The item requests `call` sent, as `METHOD status` (a transactional batch as `BATCH`).

    Only requests on items (`/docs`) count: the SDK refreshes the account and the partition
    key ranges on its own timer, which would make the counts flaky.
    """
    transport.clear()
    call()
    return [
        f"{'BATCH' if r.batch else r.method} {r.status}"
        for r in transport.records
        if "/docs" in r.url
    ]


@pytest.fixture
def manager(cosmos: CosmosStore) -> ConversationManager:
    """A manager whose client has connected already (its first request reads the account)."""
    connected = ConversationManager(cosmos)
    connected.append_messages("c_warm", CUSTOMER, _messages(1), create_if_missing=True)
    return connected


def _chat(manager: ConversationManager, count: int) -> str:
    manager.append_messages("c_ops", CUSTOMER, _messages(count), create_if_missing=True)
    return "c_ops"


def test_append_messages_creating_is_one_request(
    manager: ConversationManager, transport: RecordingTransport
) -> None:

    first = _requests(
        transport,
        lambda: manager.append_messages("c_new", CUSTOMER, _messages(3), create_if_missing=True),
    )
    existing = _requests(
        transport,
        lambda: manager.append_messages("c_new", CUSTOMER, _messages(2), create_if_missing=True),
    )
    plain = _requests(transport, lambda: manager.append_messages("c_new", CUSTOMER, _messages(2)))

    print(f"append_messages create: {first}; existing: {existing}; plain: {plain}")
    assert first == ["POST 201"]
    assert existing == ["POST 409", "PATCH 200"]
    assert plain == ["PATCH 200"]
    assert manager.load_conversation("c_new", CUSTOMER).message_count == 7


def test_pop_from_the_head_is_a_read_and_a_replace(
    manager: ConversationManager, transport: RecordingTransport
) -> None:
    conversation_id = _chat(manager, 4)

    sent = _requests(transport, lambda: manager.pop_messages(conversation_id, CUSTOMER, 2))
    empty_id = "c_empty"
    manager.append_messages(empty_id, CUSTOMER, _messages(1), create_if_missing=True)
    manager.pop_messages(empty_id, CUSTOMER)
    on_empty = _requests(transport, lambda: manager.pop_messages(empty_id, CUSTOMER))

    print(f"pop_messages in the head: {sent}; from an empty conversation: {on_empty}")
    assert sent == ["GET 200", "PUT 200"]
    assert on_empty == ["GET 200"]


def test_pop_across_segments_rewrites_in_a_new_generation(
    manager: ConversationManager, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    conversation_id = _chat(manager, 60)
    old = raw.read_item(conversation_id, partition_key=CUSTOMER)
    assert old["segment_count"] > 0

    sent = _requests(transport, lambda: manager.pop_messages(conversation_id, CUSTOMER, 40))

    print(f"pop_messages across segments: {len(sent)} requests: {sent}")
    assert len(manager.get_messages(conversation_id, CUSTOMER)) == 20
    assert (
        raw.read_item(conversation_id, partition_key=CUSTOMER)["generation"] != (old["generation"])
    )
    segments = raw.query_items(
        "SELECT c.generation FROM c WHERE c.type = 'segment'", partition_key=CUSTOMER
    )
    assert {s["generation"] for s in segments} <= {
        raw.read_item(conversation_id, partition_key=CUSTOMER)["generation"]
    }  # the old generation's segments are deleted
    assert sent[0] == "GET 200" and sent.count("BATCH 200") >= 1


def test_get_messages_tail_reads_only_the_head(
    manager: ConversationManager, transport: RecordingTransport
) -> None:
    conversation_id = _chat(manager, 60)
    ids = [m.id for m in manager.get_messages(conversation_id, CUSTOMER)]

    tail = _requests(transport, lambda: manager.get_messages(conversation_id, CUSTOMER, last=3))
    page = _requests(
        transport,
        lambda: manager.get_messages(conversation_id, CUSTOMER, last=3, before=ids[-2]),
    )
    whole = _requests(transport, lambda: manager.get_messages(conversation_id, CUSTOMER))

    print(f"get_messages last=3: {tail}; page in the head: {page}; all: {whole}")
    assert tail == ["GET 200"]
    assert page == ["GET 200", "GET 200"]  # 4 newest read first: `before` is 2 from the end


@pytest.mark.parametrize("old", [4, 60])
def test_replace_messages_requests(
    manager: ConversationManager, transport: RecordingTransport, old: int
) -> None:
    conversation_id = _chat(manager, old)
    replacement = _messages(5)

    sent = _requests(
        transport, lambda: manager.replace_messages(conversation_id, CUSTOMER, replacement)
    )

    print(f"replace_messages over {old} messages: {len(sent)} requests: {sent}")
    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER)] == [
        m.id for m in replacement
    ]
    if old == 4:
        assert sent == ["GET 200", "BATCH 200"]


def test_a_pop_whose_response_is_lost_pops_once(
    manager: ConversationManager, transport: RecordingTransport
) -> None:
    conversation_id = _chat(manager, 5)
    stored = manager.get_messages(conversation_id, CUSTOMER)
    transport.inject(Fault("lose_response", method="PUT"))

    popped = manager.pop_messages(conversation_id, CUSTOMER, 2)

    assert [m.id for m in popped] == [m.id for m in stored[-2:]]
    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER)] == [
        m.id for m in stored[:-2]
    ]
    assert manager.load_conversation(conversation_id, CUSTOMER).message_count == 3


def test_a_replace_whose_response_is_lost_is_done_once(
    manager: ConversationManager, transport: RecordingTransport
) -> None:
    conversation_id = _chat(manager, 60)
    replacement = _messages(3)
    transport.inject(Fault("lose_response", method="POST", batches_only=True))

    manager.replace_messages(conversation_id, CUSTOMER, replacement)

    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER)] == [
        m.id for m in replacement
    ]


def test_a_replacement_over_several_batches_numbers_its_segments_after_the_old_ones() -> None:
    head = {
        "id": "c_big",
        "type": "conversation",
        "customer_id": CUSTOMER,
        "generation": "OLDGENER",
        "segment_count": 3,
        "messages": [],
        "sealed_ids": [],
        "message_count": 0,
        "total_tokens": 0,
        "_etag": "etag-1",
    }
    messages = [m.model_dump(mode="json") for m in _messages(220, size=3_500)]

    batches = docs.replacement_batches(
        head, "etag-1", messages, "NEWGENER", TEST_LIMITS, docs.now()
    )

    upserts = [op[1][0] for batch in batches for op in batch if op[0] == "upsert"]
    new_head = batches[-1][-1][1][1]
    assert len(batches) > 1
    assert batches[-1][-1][0] == "replace" and batches[-1][-1][2] == {"if_match_etag": "etag-1"}
    assert [s["number"] for s in upserts] == list(range(3, 3 + len(upserts)))
    assert {s["generation"] for s in upserts} == {"NEWGENER"}
    assert docs.live_segment_count(new_head) == len(upserts)
    loaded = docs.conversation_from_items(new_head, upserts)
    assert [m.id for m in loaded.messages] == [m["id"] for m in messages]
