"""Outages of the real local Cosmos server: nothing acknowledged is lost or duplicated.

The local server keeps its data in memory, so a restart loses it. The test therefore seeds the
server again with the items it held before the outage (a snapshot read through the bare SDK);
what was written during the outage must come back from the outbox replay alone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.cosmos import CosmosClient

from conversation_store import ConversationManager, CosmosStore, InvalidInputError, RetryPolicy
from conversation_store.stores.cosmos.config import PARTITION_KEY
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS
from support.local_cosmos import LocalCosmosServer

pytestmark = pytest.mark.cosmos
CONTAINER = "outage"
QUICK = RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def server() -> Iterator[LocalCosmosServer]:
    with LocalCosmosServer() as own:  # its own server: this test stops and restarts it
        _ensure_container(own)
        yield own


def _ensure_container(server: LocalCosmosServer, items: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    client = CosmosClient(server.endpoint, credential=server.key, connection_verify=False)
    database = client.create_database_if_not_exists(TEST_DATABASE)
    container = database.create_container_if_not_exists(CONTAINER, partition_key=PARTITION_KEY)
    for item in items:
        container.upsert_item({k: v for k, v in item.items() if not k.startswith("_")})
    client.close()


def _snapshot(server: LocalCosmosServer) -> list[dict[str, Any]]:
    client = CosmosClient(server.endpoint, credential=server.key, connection_verify=False)
    container = client.get_database_client(TEST_DATABASE).get_container_client(CONTAINER)
    items = list(container.query_items("SELECT * FROM c", enable_cross_partition_query=True))
    client.close()
    return items


def _outbox_store(server: LocalCosmosServer, outbox: Path, *, background: bool) -> OutboxStore:
    cosmos = CosmosStore.from_endpoint(
        server.endpoint,
        credential=server.key,
        database=TEST_DATABASE,
        container=CONTAINER,
        connection_verify=False,
        limits=TEST_LIMITS,
        retry=QUICK,
    )
    return OutboxStore(cosmos, OutboxQueue(outbox), interval=0.2, background=background)


def _wait_until_flushed(store: OutboxStore, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while store.pending_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.pending_count() == 0


def test_server_outage_mid_conversation_loses_and_duplicates_nothing(
    server: LocalCosmosServer, tmp_path: Path
) -> None:
    # No background flusher here: it would replay into the restarted, still empty server
    # before the test has seeded it again (and park those writes as refused).
    store = _outbox_store(server, tmp_path / "outbox.db", background=False)
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1", title="Outage")
    manager.add_message_to_conversation(doc, "system", "Keep answers short.")
    manager.save_conversation(doc)
    acknowledged = ["Keep answers short."]
    for n in range(60):  # crosses the 8 KiB bound: segments exist before the outage
        manager.append_message(doc.id, "alice", "user", f"online {n} " + "text " * 20)
        acknowledged.append(f"online {n} " + "text " * 20)
    before = _snapshot(server)

    server.stop()
    pending = []
    for n in range(40):
        result = manager.append_message(doc.id, "alice", "user", f"offline {n}")
        pending.append(result.pending)
        acknowledged.append(f"offline {n}")
    offline = manager.create_conversation_document("alice", "s1", title="Born offline")
    manager.add_message_to_conversation(offline, "user", "created while Cosmos was down")
    manager.save_conversation(offline)
    assert all(pending) and store.pending_count() == 41

    server.restart()
    _ensure_container(server, before)  # the test seeds the pre-outage state again
    assert store.flush() == 0
    assert store.parked_count() == 0

    loaded = manager.load_conversation(doc.id, "alice")
    assert [m.content for m in loaded.messages] == acknowledged
    assert loaded.message_count == len(acknowledged) == 101
    assert [m.content for m in manager.load_conversation(offline.id, "alice").messages] == [
        "created while Cosmos was down"
    ]
    store.close()


CRASHING_WRITER = """
import os, sys
from conversation_store import ConversationManager, CosmosStore, InvalidInputError, RetryPolicy
from conversation_store.stores.outbox.store import OutboxStore
from conversation_store.stores.outbox.queue import OutboxQueue
cosmos = CosmosStore.from_endpoint("https://127.0.0.1:9/", credential="a2V5", database="db",
                                   container="c", connection_verify=False,
                                   retry=RetryPolicy(attempts=1))
manager = ConversationManager(OutboxStore(cosmos, OutboxQueue(sys.argv[1]), interval=3600))
doc = manager.create_conversation_document("alice", "s1", conversation_id="c_crash")
manager.add_message_to_conversation(doc, "user", "accepted before the crash")
manager.save_conversation(doc)
for n in range(10):
    assert manager.append_message("c_crash", "alice", "user", f"queued {n}").pending
os._exit(0)  # no close(), no flush: the process dies with writes only in the outbox
"""


def test_a_process_crash_between_accept_and_flush_is_replayed_by_the_next_process(
    server: LocalCosmosServer, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(outbox)], check=True, timeout=120)

    store = _outbox_store(server, outbox, background=True)  # replays what it finds on start
    _wait_until_flushed(store)

    loaded = ConversationManager(store).load_conversation("c_crash", "alice")
    assert [m.content for m in loaded.messages] == [
        "accepted before the crash",
        *[f"queued {n}" for n in range(10)],
    ]
    store.close()


def test_a_message_cosmos_cannot_hold_is_refused_while_it_is_down_not_queued(
    tmp_path: Path,
) -> None:
    """Queued, a message over Cosmos DB's bound would be acknowledged and then parked at
    replay: the outbox refuses it at once, and a message within the bound is still queued."""
    cosmos = CosmosStore.from_endpoint(
        "https://127.0.0.1:9/",  # nothing listens there: Cosmos is down for the whole test
        credential="a2V5",
        database="db",
        container="c",
        connection_verify=False,
        retry=RetryPolicy(attempts=1),
    )
    store = OutboxStore(cosmos, OutboxQueue(tmp_path / "outbox.db"), interval=3600)
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1", conversation_id="c_big")
    manager.add_message_to_conversation(doc, "user", "fits")
    manager.save_conversation(doc)
    assert store.pending_count() == 1
    too_big = "x" * 1_600_000  # within the manager's 4 MiB, over Cosmos DB's 1,500,000 bytes

    with pytest.raises(InvalidInputError, match="at most 1500000 bytes per message"):
        manager.append_message("c_big", "alice", "user", too_big)
    born_big = manager.create_conversation_document("alice", "s1", conversation_id="c_big2")
    manager.add_message_to_conversation(born_big, "user", too_big)
    with pytest.raises(InvalidInputError, match="at most 1500000 bytes per message"):
        manager.save_conversation(born_big)
    assert store.pending_count() == 1

    assert manager.append_message("c_big", "alice", "user", "x" * 1_000_000).pending
    assert store.pending_count() == 2
    assert store.parked_count() == 0
    store.close()
