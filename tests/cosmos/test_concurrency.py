"""Concurrent writers on one conversation, against the local Cosmos server.

Six threads share one store and two more processes open their own: 8 writers x 100 appends
to one conversation, with items small enough that segments are sealed while others append.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import pytest

from conversation_store import ConversationManager
from support.cosmos_fixtures import TEST_DATABASE, CosmosTarget, open_cosmos_store

pytestmark = pytest.mark.cosmos
APPENDS = 100

WRITER_PROCESS = """
import sys, warnings
warnings.simplefilter("ignore")
from conversation_store import ConversationManager, CosmosStore, SizeLimits
endpoint, key, container, conversation_id, tag, count = sys.argv[1:7]
store = CosmosStore.from_endpoint(endpoint, credential=key, database=sys.argv[7],
                                  container=container, connection_verify=False,
                                  limits=SizeLimits(item_bytes=8 * 1024))
manager = ConversationManager(store)
for n in range(int(count)):
    manager.append_message(conversation_id, "alice", "user", f"{tag}:{n}")
store.close()
"""


def test_eight_writers_store_every_message_exactly_once(
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    target, container = cosmos_container
    store = open_cosmos_store(target, container)
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    manager.save_conversation(doc)

    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER_PROCESS,
                target.endpoint,
                target.key,
                container,
                doc.id,
                f"p{n}",
                str(APPENDS),
                TEST_DATABASE,
            ]
        )
        for n in range(2)
    ]

    def write(tag: str) -> None:
        for n in range(APPENDS):
            manager.append_message(doc.id, "alice", "user", f"{tag}:{n}")

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(timeout=300) for p in processes] == [0, 0]

    loaded = manager.load_conversation(doc.id, "alice")
    contents = [m.content or "" for m in loaded.messages]
    assert loaded.message_count == len(contents) == 8 * APPENDS
    assert Counter(contents) == Counter(
        f"{tag}:{n}" for tag in [*(f"t{i}" for i in range(6)), "p0", "p1"] for n in range(APPENDS)
    )
    for tag in [f"t{i}" for i in range(6)] + ["p0", "p1"]:  # each writer's order is kept
        assert [c for c in contents if c.startswith(f"{tag}:")] == [
            f"{tag}:{n}" for n in range(APPENDS)
        ]
    store.close()
