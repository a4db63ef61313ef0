"""Cosmos-specific behaviour of the issue 6 features, against the local Cosmos-compatible server.

What the contract suite cannot see: the items as Cosmos holds them (`ttl`, segments), the
requests each feature sends, and that the store hides expired heads itself (the local server,
like a real account before its background purge, still holds them).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.cosmos import ContainerProxy, CosmosClient

from conversation_store import (
    ConflictError,
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
    SizeLimits,
    aio,
)
from conversation_store.ids import new_conversation_id, new_message_id
from conversation_store.models import Conversation, ConversationKey, HeaderUpdate, Message
from conversation_store.stores.cosmos.boundary import RequestCharge
from conversation_store.stores.cosmos.items import MAX_BATCH_OPERATIONS, json_size
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import (
    TEST_DATABASE,
    TEST_LIMITS,
    CosmosTarget,
    open_aio_cosmos_store,
    open_cosmos_store,
)
from support.transport import RecordingTransport

pytestmark = pytest.mark.cosmos

FILLER = " lorem ipsum dolor" * 12  # ~220 bytes: a few dozen messages seal segments at 8 KiB


def _items(raw: ContainerProxy, customer_id: str) -> list[dict[str, Any]]:
    return list(raw.query_items("SELECT * FROM c", partition_key=customer_id))


def _of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if item.get("type") == kind]


def _long_chat(
    manager: ConversationManager, customer: str, first: str, last: str, *, title: str = "Trip"
) -> str:
    """A conversation whose `first` message is sealed into a segment, `last` in the head."""
    doc = manager.create_conversation_document(customer, "s1", title=title)
    manager.save_conversation(doc)
    manager.append_message(doc.id, customer, "user", first, tokens=5)
    for n in range(60):
        manager.append_message(doc.id, customer, "assistant", f"filler {n}{FILLER}", tokens=3)
    manager.append_message(doc.id, customer, "user", last, tokens=7)
    return doc.id


def _sealed_message_id(raw: ContainerProxy, customer: str, conversation_id: str) -> str:
    segments = [
        s
        for s in _of_type(_items(raw, customer), "segment")
        if s["conversation_id"] == conversation_id
    ]
    assert segments, "the conversation should have sealed segments"
    first: str = min(segments, key=lambda s: s["number"])["messages"][0]["id"]
    return first


# -- TTL ---------------------------------------------------------------------------------------


def test_ttl_is_a_native_field_of_the_head_and_is_removed_not_nulled(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _long_chat(manager, "alice", "hello", "bye")

    manager.set_conversation_ttl(conversation_id, "alice", 3600)
    items = _items(raw, "alice")
    assert [h["ttl"] for h in _of_type(items, "conversation")] == [3600]
    # Segments carry none: their _ts is when they were sealed, not the last write.
    assert all("ttl" not in s for s in _of_type(items, "segment"))
    assert manager.get_recent_conversations("alice").items[0].ttl == 3600

    manager.set_conversation_ttl(conversation_id, "alice", None)
    assert "ttl" not in _of_type(_items(raw, "alice"), "conversation")[0]
    # Removing a ttl that is already absent (a 400 for patch `remove`) still succeeds.
    cosmos.update_conversation(
        ConversationKey("alice", conversation_id), HeaderUpdate({"ttl": None})
    )
    assert "ttl" not in _of_type(_items(raw, "alice"), "conversation")[0]
    assert manager.load_conversation(conversation_id, "alice").ttl is None


def test_a_created_container_has_ttl_on_without_a_default(cosmos_target: CosmosTarget) -> None:
    name = f"created_{uuid.uuid4().hex[:12]}"
    store = CosmosStore.from_endpoint(
        cosmos_target.endpoint,
        credential=cosmos_target.key,
        database=TEST_DATABASE,
        container=name,
        create_if_missing=True,
        connection_verify=cosmos_target.verify_tls,
    )
    client = CosmosClient(
        cosmos_target.endpoint,
        credential=cosmos_target.key,
        connection_verify=cosmos_target.verify_tls,
    )
    database = client.get_database_client(TEST_DATABASE)
    try:
        store.list_conversations("alice", limit=1)  # connects, creating it
        assert database.get_container_client(name).read()["defaultTtl"] == -1
    finally:
        store.close()
        database.delete_container(name)
        client.close()


def test_an_expired_head_is_hidden_from_every_read_and_write(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    expiring = _long_chat(manager, "alice", "zebra crossing", "zebra again")
    sealed = _sealed_message_id(raw, "alice", expiring)
    kept = _long_chat(manager, "alice", "zebra kept", "still here", title="Kept")
    manager.set_conversation_ttl(expiring, "alice", 1)
    kept_messages = manager.load_conversation(kept, "alice").message_count

    time.sleep(2.2)  # _ts and ttl count whole seconds

    # The local server, like an account before its purge, still holds the items.
    assert any(i["id"] == expiring for i in _items(raw, "alice"))
    for call in (
        lambda: manager.load_conversation(expiring, "alice"),
        lambda: manager.get_history(expiring, "alice", max_messages=2),
        lambda: manager.append_message(expiring, "alice", "user", "too late"),
        lambda: manager.rename_conversation(expiring, "alice", "renamed"),
        lambda: manager.clear_conversation(expiring, "alice"),
        lambda: manager.delete_message(expiring, "alice", sealed),
    ):
        with pytest.raises(ConversationNotFoundError) as raised:
            call()
        assert not isinstance(raised.value, MessageNotFoundError)
    assert [s.id for s in manager.get_recent_conversations("alice", archived=None).items] == [kept]
    assert {h.conversation_id for h in manager.search_conversations("alice", "zebra")} == {kept}
    assert sum(cosmos.count_messages_by_day(customer_id="alice").values()) == kept_messages
    # Operators still see it (cleanup deletes it), and delete succeeds with its segments.
    assert {s.id for s in cosmos.scan_conversations(customer_id="alice")} == {expiring, kept}
    manager.delete_conversation(expiring, "alice")
    assert {i.get("conversation_id", i["id"]) for i in _items(raw, "alice")} == {kept}


# -- search ------------------------------------------------------------------------------------


def test_search_reaches_sealed_messages_in_one_query_plus_one_for_titles(
    cosmos: CosmosStore, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _long_chat(manager, "alice", "We plan a trip to Kyoto", "Kyoto again!")
    sealed = _sealed_message_id(raw, "alice", conversation_id)
    _long_chat(manager, "bob", "Kyoto for bob", "Kyoto bob again")

    transport.clear()
    hits = manager.search_conversations("alice", "kyo")

    assert [h.snippet for h in hits] == ["Kyoto again!", "We plan a trip to Kyoto"]
    assert hits[1].message_id == sealed
    assert {(h.conversation_id, h.conversation_title) for h in hits} == {(conversation_id, "Trip")}
    assert [(r.method, r.batch) for r in transport.records] == [("POST", False)] * 2

    transport.clear()
    assert [h.snippet for h in manager.search_conversations("alice", "again")] == ["Kyoto again!"]
    assert len(transport.records) == 1  # head hits only: no title lookup
    assert [h.snippet for h in manager.search_conversations("alice", "kyoto", limit=1)] == [
        "Kyoto again!"
    ]


def test_segments_whose_head_is_gone_are_invisible_and_delete_customer_removes_them(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _long_chat(manager, "alice", "orphaned words", "orphaned head")
    raw.delete_item(conversation_id, partition_key="alice")  # as an interrupted delete leaves it

    assert manager.search_conversations("alice", "orphaned") == []
    assert cosmos.count_messages_by_day(customer_id="alice") == {}
    assert list(cosmos.scan_conversations(customer_id="alice")) == []
    assert cosmos.delete_customer("alice") == 0
    assert _items(raw, "alice") == []


def test_cleanup_deletes_the_segments_of_a_head_the_service_expired(
    cosmos_container: tuple[CosmosTarget, str], raw: ContainerProxy
) -> None:
    target, name = cosmos_container
    with open_cosmos_store(target, name, orphan_grace_seconds=0) as store:
        manager = ConversationManager(store)
        gone = _long_chat(manager, "alice", "expired words", "expired head")
        kept = _long_chat(manager, "alice", "live words", "live head")
        other = _long_chat(manager, "bob", "bob's words", "bob's head")
        for conversation_id, customer in ((gone, "alice"), (other, "bob")):
            raw.delete_item(conversation_id, partition_key=customer)  # what native TTL does
        time.sleep(1.1)  # `_ts` counts whole seconds

        assert manager.cleanup_old_conversations(90, customer_id="alice") == 1
        alice = _items(raw, "alice")
        assert {item.get("conversation_id", item["id"]) for item in alice} == {kept}
        assert manager.load_conversation(kept, "alice").message_count == 62
        assert _of_type(_items(raw, "bob"), "segment"), "another customer's items are not touched"

        assert manager.cleanup_old_conversations(90) == 1  # every customer: bob's orphan
        assert _items(raw, "bob") == []
        assert manager.cleanup_old_conversations(90) == 0


def test_cleanup_spares_headless_segments_younger_than_the_grace(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    """A large create writes its segments before its head: a sweep must not race it."""
    manager = ConversationManager(cosmos)
    conversation_id = _long_chat(manager, "alice", "words", "head")
    raw.delete_item(conversation_id, partition_key="alice")

    assert manager.cleanup_old_conversations(90) == 0
    assert _of_type(_items(raw, "alice"), "segment")


# -- editing messages --------------------------------------------------------------------------


def test_edit_and_delete_a_message_sealed_in_a_segment(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    conversation_id = _long_chat(manager, "alice", "first words", "last words")
    sealed = _sealed_message_id(raw, "alice", conversation_id)
    before = manager.load_conversation(conversation_id, "alice")

    manager.edit_message(conversation_id, "alice", sealed, "edited first words", tokens=11)

    edited = manager.load_conversation(conversation_id, "alice")
    assert [m.id for m in edited.messages] == [m.id for m in before.messages]
    assert edited.messages[0].content == "edited first words"
    assert (edited.message_count, edited.total_tokens) == (
        before.message_count,
        before.total_tokens - 5 + 11,
    )
    segment_messages = [m for s in _of_type(_items(raw, "alice"), "segment") for m in s["messages"]]
    assert [m["content"] for m in segment_messages if m["id"] == sealed] == ["edited first words"]

    manager.delete_message(conversation_id, "alice", sealed)

    deleted = manager.load_conversation(conversation_id, "alice")
    assert [m.id for m in deleted.messages] == [m.id for m in before.messages[1:]]
    assert (deleted.message_count, deleted.total_tokens) == (
        before.message_count - 1,
        before.total_tokens - 5,
    )
    assert manager.get_history(conversation_id, "alice", max_messages=3)[-1].content == (
        "last words"
    )
    with pytest.raises(MessageNotFoundError):
        manager.delete_message(conversation_id, "alice", sealed)


def test_an_edit_racing_an_append_is_retried_and_both_are_kept(
    cosmos_container: tuple[CosmosTarget, str], raw: ContainerProxy, transport: RecordingTransport
) -> None:
    target, name = cosmos_container
    writer = ConversationManager(open_cosmos_store(target, name))
    conversation_id = _long_chat(writer, "alice", "first words", "last words")
    sealed = _sealed_message_id(raw, "alice", conversation_id)
    raced: list[str] = []

    def append_once_the_edit_has_read(charge: RequestCharge) -> None:
        # The segment query answered: the edit holds the head's ETag, and now it changes.
        if charge.operation == "replace" and not raced:
            raced.append(
                writer.append_message(conversation_id, "alice", "user", "racer").message_ids[0]
            )

    editor = ConversationManager(
        open_cosmos_store(
            target, name, transport=transport, on_charge=append_once_the_edit_has_read
        )
    )
    editor.edit_message(conversation_id, "alice", sealed, "edited")

    # The first batch lost the race (a 412 inside a 207), the second one landed.
    assert [r.status for r in transport.records if r.batch] == [207, 200]

    loaded = writer.load_conversation(conversation_id, "alice")
    assert loaded.messages[0].content == "edited"
    assert loaded.messages[-1].id == raced[0]
    assert loaded.message_count == len(loaded.messages) == 63
    editor.close()
    writer.close()


def test_an_edit_that_outgrows_the_head_seals_older_messages(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "system", "Be brief.")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"short {n}")
    manager.save_conversation(doc)
    assert _of_type(_items(raw, "alice"), "segment") == []

    manager.edit_message(doc.id, "alice", doc.messages[-1].id or "", "long " * 1200)

    items = _items(raw, "alice")
    assert _of_type(items, "segment")
    assert max(json_size(item) for item in items) <= TEST_LIMITS.item_bytes
    loaded = manager.load_conversation(doc.id, "alice")
    assert [m.content for m in loaded.messages] == [
        "Be brief.",
        *(f"short {n}" for n in range(11)),
        "long " * 1200,
    ]
    assert manager.get_history(doc.id, "alice", max_messages=1)[0].content == "Be brief."


# -- deleting a customer -----------------------------------------------------------------------


def _big_conversation(customer: str, messages: int, content_bytes: int) -> Conversation:
    return Conversation(
        id=new_conversation_id(),
        customer_id=customer,
        messages=[
            Message(id=new_message_id(), role="user", content=f"{n} " + "x" * content_bytes)
            for n in range(messages)
        ],
    )


def test_delete_customer_deletes_every_item_in_batches_of_at_most_100(
    cosmos: CosmosStore, raw: ContainerProxy, transport: RecordingTransport
) -> None:
    # 4 KiB messages: one per 8 KiB segment, so ~130 segments (also two batches to create).
    cosmos.create_conversation(_big_conversation("alice", 130, 4000))
    manager = ConversationManager(cosmos)
    small = _long_chat(manager, "alice", "a", "b")
    manager.archive_conversation(small, "alice")
    bobs = _long_chat(manager, "bob", "c", "d")
    stored = len(_items(raw, "alice"))
    assert stored > MAX_BATCH_OPERATIONS

    transport.clear()
    assert cosmos.delete_customer("alice") == 2

    batches = [r for r in transport.records if r.batch]
    assert len(batches) == -(-stored // MAX_BATCH_OPERATIONS)
    assert _items(raw, "alice") == []
    assert manager.load_conversation(bobs, "bob").message_count == 62
    assert cosmos.delete_customer("alice") == 0


# -- creating large conversations --------------------------------------------------------------


def test_a_large_import_is_created_in_several_batches_and_loads_whole(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport
) -> None:
    target, name = cosmos_container
    store = open_cosmos_store(target, name, limits=SizeLimits(), transport=transport)
    conversation = _big_conversation("alice", 24, 90_000)  # ~2.2 MB: over one batch's limit

    created = store.create_conversation(conversation)

    batches = [r for r in transport.records if r.batch]
    assert len(batches) >= 2
    assert all(r.status == 200 and r.request_bytes < 2 * 1024 * 1024 for r in batches)
    loaded = store.get_conversation(ConversationKey("alice", conversation.id))
    assert loaded.to_document() == created.to_document() == conversation.to_document()
    assert loaded.etag == created.etag

    # Created again: refused before any segment is rewritten, so nothing stored changes.
    transport.clear()
    changed = conversation.model_copy(
        update={
            "messages": [m.model_copy(update={"content": "lost?"}) for m in conversation.messages]
        }
    )
    with pytest.raises(ConflictError):
        store.create_conversation(changed)
    assert not any(r.batch for r in transport.records)
    again = store.get_conversation(ConversationKey("alice", conversation.id))
    assert again.to_document() == conversation.to_document()
    store.close()


# -- listing, scans and day counts -------------------------------------------------------------


def test_a_document_without_archived_is_active_and_tokens_keep_their_filter(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    raw.upsert_item(
        {
            "id": "legacy-1",
            "customer_id": "alice",
            "created_at": "2025-01-24T10:30:00Z",
            "updated_at": "2025-01-24T10:35:00Z",
            "messages": [],
        }
    )
    manager = ConversationManager(cosmos)
    archived = _long_chat(manager, "alice", "a", "b")
    manager.archive_conversation(archived, "alice")
    _long_chat(manager, "alice", "c", "d")

    assert "legacy-1" in {s.id for s in manager.get_recent_conversations("alice").items}
    page = cosmos.list_conversations("alice", limit=1, archived=None)
    assert page.continuation is not None
    with pytest.raises(InvalidInputError):
        cosmos.list_conversations("alice", limit=1, continuation=page.continuation)
    rest = cosmos.list_conversations(
        "alice", limit=10, continuation=page.continuation, archived=None
    )
    assert len(page.items) + len(rest.items) == 3


def _dated(customer: str, days: list[int]) -> Conversation:
    return Conversation(
        id=new_conversation_id(),
        customer_id=customer,
        messages=[
            Message(
                role="user",
                content=f"day {day}" + "y" * 3000,  # ~3 KB: most are sealed into segments
                timestamp=datetime(2025, 3, day, 12, tzinfo=UTC),
            )
            for day in days
        ],
    )


def test_scans_and_day_counts_span_every_partition(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    alice = cosmos.create_conversation(_dated("alice", [1, 1, 2, 2, 2, 3, 3, 3, 3]))
    bob = cosmos.create_conversation(_dated("bob", [3, 4]))
    assert _of_type(_items(raw, "alice"), "segment")

    assert cosmos.count_messages_by_day() == {
        "2025-03-01": 2,
        "2025-03-02": 3,
        "2025-03-03": 5,
        "2025-03-04": 1,
    }
    assert cosmos.count_messages_by_day(customer_id="bob") == {"2025-03-03": 1, "2025-03-04": 1}
    assert {s.id for s in cosmos.scan_conversations()} == {alice.id, bob.id}
    assert [s.id for s in cosmos.scan_conversations(customer_id="bob")] == [bob.id]
    assert list(cosmos.scan_conversations(updated_before="2000-01-01T00:00:00.000000Z")) == []


# -- the async twin ----------------------------------------------------------------------------


async def test_async_store_searches_edits_and_deletes_across_segments(
    cosmos_container: tuple[CosmosTarget, str], raw: ContainerProxy
) -> None:
    target, name = cosmos_container
    sync_manager = ConversationManager(open_cosmos_store(target, name))
    conversation_id = _long_chat(sync_manager, "alice", "Kyoto first", "Kyoto last")
    sealed = _sealed_message_id(raw, "alice", conversation_id)
    store = open_aio_cosmos_store(target, name)
    async with aio.ConversationManager(store, owns_store=True) as manager:
        hits = await manager.search_conversations("alice", "kyoto")
        assert [(h.snippet, h.conversation_title) for h in hits] == [
            ("Kyoto last", "Trip"),
            ("Kyoto first", "Trip"),
        ]
        await manager.edit_message(conversation_id, "alice", sealed, "edited")
        await manager.archive_conversation(conversation_id, "alice")
        assert (await manager.get_recent_conversations("alice")).items == []
        loaded = await manager.load_conversation(conversation_id, "alice")
        assert (loaded.messages[0].content, loaded.archived) == ("edited", True)
        assert await manager.delete_customer_data("alice") == 1
    assert _items(raw, "alice") == []
    sync_manager.close()
