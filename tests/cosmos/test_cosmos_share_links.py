"""Share-link items on the local Cosmos server: one point read each, and invisible to every
query over conversations (listings, scans, day counts, search, erasure, the orphan sweep)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import ConversationManager, ConversationNotFoundError, ShareLink
from conversation_store.models import ConversationKey, utc_now
from conversation_store.stores.cosmos.store import CosmosStore
from support.transport import RecordingTransport

pytestmark = pytest.mark.cosmos

TOKEN_HASH = hashlib.sha256(b"a token the store never sees").hexdigest()
PARTITION = f"_share:{TOKEN_HASH}"


def _link(token_hash: str = TOKEN_HASH, *, conversation_id: str = "c_1", **extra: Any) -> ShareLink:
    return ShareLink(
        token_hash=token_hash, customer_id="alice", conversation_id=conversation_id, **extra
    )


def test_a_link_is_one_item_in_its_own_partition_and_one_point_read(
    cosmos: CosmosStore, transport: RecordingTransport, raw: ContainerProxy
) -> None:
    cosmos.put_share_link(_link())

    item = raw.read_item(TOKEN_HASH, partition_key=PARTITION)
    assert item["type"] == "share_link" and item["customer_id"] == PARTITION
    assert (item["owner_customer_id"], item["conversation_id"]) == ("alice", "c_1")
    assert "ttl" not in item and item["expires_at"] is None
    transport.clear()
    found = cosmos.get_share_link(TOKEN_HASH)
    assert found is not None and (found.customer_id, found.conversation_id) == ("alice", "c_1")
    assert [r.method for r in transport.records] == ["GET"]


def test_a_missing_revoked_or_expired_link_is_none(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    assert cosmos.get_share_link(TOKEN_HASH) is None
    cosmos.put_share_link(_link())
    cosmos.delete_share_link(TOKEN_HASH)
    cosmos.delete_share_link(TOKEN_HASH)  # already gone: still fine
    assert cosmos.get_share_link(TOKEN_HASH) is None

    expiring = hashlib.sha256(b"expiring").hexdigest()
    cosmos.put_share_link(_link(expiring, expires_at=utc_now() + timedelta(hours=1)))
    assert 3590 <= raw.read_item(expiring, partition_key=f"_share:{expiring}")["ttl"] <= 3600
    assert cosmos.get_share_link(expiring) is not None
    expired = hashlib.sha256(b"expired").hexdigest()
    cosmos.put_share_link(_link(expired, expires_at=utc_now() - timedelta(seconds=5)))
    # The local server keeps expired items; the store hides them as Cosmos DB would.
    assert raw.read_item(expired, partition_key=f"_share:{expired}")["ttl"] == 1
    assert cosmos.get_share_link(expired) is None


def test_share_items_are_never_seen_as_conversations_or_their_parts(
    cosmos: CosmosStore, raw: ContainerProxy
) -> None:
    manager = ConversationManager(cosmos)
    doc = manager.create_conversation_document("alice", "s1", title="Shared")
    for n in range(12):
        manager.add_message_to_conversation(doc, "user", f"hello {n} " + "x" * 1000)
    manager.save_conversation(doc)
    cosmos.put_share_link(_link(conversation_id=doc.id))

    assert [s.id for s in cosmos.list_conversations("alice", limit=10).items] == [doc.id]
    assert [s.id for s in cosmos.scan_conversations()] == [doc.id]
    assert sum(cosmos.count_messages_by_day().values()) == 12
    hits = cosmos.search_messages("alice", query="hello", limit=50)
    assert {hit.conversation_id for hit in hits} == {doc.id}
    with pytest.raises(ConversationNotFoundError):  # a share item read as a head
        cosmos.get_conversation(ConversationKey(PARTITION, TOKEN_HASH))
    assert cosmos.delete_orphans() == 0
    assert cosmos.delete_customer("alice") == 1

    assert cosmos.get_share_link(TOKEN_HASH) is not None  # the manager revokes it, by its hash
    assert raw.read_item(TOKEN_HASH, partition_key=PARTITION)["type"] == "share_link"
