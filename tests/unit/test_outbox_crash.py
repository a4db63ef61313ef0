"""Crash-safe replay: a `kill -9` of the replaying process never loses or duplicates a write.

A child process replays a real outbox file into a real SQLite primary and is killed with
SIGKILL, either right after a write reached the primary and before its dequeue (every write in
turn), or at random points; the next child replays what is left. The primary must end exactly
as one clean replay leaves it.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conversation_store import ConversationNotFoundError, SQLiteStore
from conversation_store.models import Conversation, ConversationKey, HeaderUpdate, Message
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore

REPLAYER = """
import os, signal, sys
from conversation_store import SQLiteStore
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore

primary, outbox, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kill_at:  # die the moment write `kill_at` has reached the primary, before its dequeue
    dequeue = OutboxQueue.remove
    def remove(queue, seq):
        if seq == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        dequeue(queue, seq)
    OutboxQueue.remove = remove
store = OutboxStore(SQLiteStore(primary), OutboxQueue(outbox), background=False)
print("replaying", flush=True)
print("left", store.flush(), flush=True)
"""

CUSTOMER = "alice"
KEYS = [ConversationKey(CUSTOMER, f"c_{n}") for n in range(3)]


def _message(key: ConversationKey, n: int) -> dict[str, Any]:
    return Message(id=f"m_{key.conversation_id}_{n}", role="user", content=f"{n}").model_dump(
        mode="json"
    )


def _queue_writes(path: Path, appends: int) -> None:
    """Creates (one with an id-less seed message), appends, a rename, a replacement, a removal,
    a clear followed by appends, and a delete: each kind of write the outbox queues."""
    queue = OutboxQueue(path)
    for key in KEYS:
        created = Conversation(id=key.conversation_id, customer_id=CUSTOMER)
        document = created.to_document()
        document["messages"] = [_message(key, 0), {"role": "system", "content": "no id"}]
        queue.put(key, "create", {"conversation": document})
    for n in range(1, appends + 1):
        key = KEYS[n % 2]
        queue.put(key, "append", {"messages": [_message(key, n), _message(key, n + 10_000)]})
    rename = HeaderUpdate(fields={"title": "renamed"}, metadata_set={"k": 1})
    queue.put(KEYS[0], "update", rename.to_json())
    replacement = {**_message(KEYS[0], 2), "content": "replaced"}
    queue.put(KEYS[0], "replace_message", {"message_id": replacement["id"], "message": replacement})
    queue.put(KEYS[1], "replace_message", {"message_id": "m_c_1_0", "message": None})
    queue.put(KEYS[1], "clear", {})
    queue.put(KEYS[1], "append", {"messages": [_message(KEYS[1], 99_999)]})
    queue.put(KEYS[2], "delete", {})
    queue.close()


def _replay(primary: Path, outbox: Path, kill_at: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", REPLAYER, str(primary), str(outbox), str(kill_at)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _contents(primary: Path) -> list[dict[str, Any] | None]:
    """Every conversation as stored, without what differs between two replays (times)."""
    documents: list[dict[str, Any] | None] = []
    with SQLiteStore(primary) as store:
        for key in KEYS:
            try:
                conversation = store.get_conversation(key)
            except ConversationNotFoundError:
                documents.append(None)
                continue
            documents.append(
                {
                    "title": conversation.title,
                    "metadata": conversation.metadata,
                    "counts": (conversation.message_count, conversation.total_tokens),
                    "messages": [(m.id, m.role, m.content) for m in conversation.messages],
                }
            )
    return documents


def _clean_replay(tmp_path: Path, outbox: Path) -> list[dict[str, Any] | None]:
    """What one uninterrupted replay of a copy of `outbox` stores."""
    copy = tmp_path / "clean-outbox.db"
    shutil.copy(outbox, copy)
    primary = tmp_path / "clean.db"
    with OutboxStore(SQLiteStore(primary), OutboxQueue(copy), background=False) as store:
        assert store.flush() == 0 and store.parked_count() == 0
    return _contents(primary)


def _left(outbox: Path) -> tuple[int, int]:
    queue = OutboxQueue(outbox)
    try:
        return queue.count(), queue.parked_count()
    finally:
        queue.close()


def test_a_kill_after_each_write_reached_the_primary_before_its_dequeue_duplicates_nothing(
    tmp_path: Path,
) -> None:
    outbox, primary = tmp_path / "outbox.db", tmp_path / "primary.db"
    _queue_writes(outbox, appends=4)
    expected = _clean_replay(tmp_path, outbox)
    seqs = [write.seq for write in OutboxQueue(outbox).pending()]

    for seq in seqs:  # each round replays the write the last one died on, then dies on the next
        child = _replay(primary, outbox, kill_at=seq)
        child.communicate(timeout=120)
        assert child.returncode == -signal.SIGKILL
    child = _replay(primary, outbox)
    out, _ = child.communicate(timeout=120)

    assert child.returncode == 0 and out.splitlines()[-1] == "left 0"
    assert _left(outbox) == (0, 0)
    assert _contents(primary) == expected
    assert expected[1] == {
        "title": None,
        "metadata": {},
        "counts": (1, 0),
        "messages": [("m_c_1_99999", "user", "99999")],
    }


def test_kills_at_random_points_of_a_replay_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    outbox, primary = tmp_path / "outbox.db", tmp_path / "primary.db"
    _queue_writes(outbox, appends=150)
    expected = _clean_replay(tmp_path, outbox)
    chance = random.Random(20250124)
    kills = 0

    for _ in range(8):
        child = _replay(primary, outbox)
        assert child.stdout is not None and child.stdout.readline() == "replaying\n"
        time.sleep(chance.uniform(0, 0.15))  # where the kill lands, not a bound on anything
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=120)
        kills += child.returncode == -signal.SIGKILL
    child = _replay(primary, outbox)
    child.communicate(timeout=120)

    assert child.returncode == 0 and kills > 0
    assert _left(outbox) == (0, 0)
    assert _contents(primary) == expected
    stored = expected[0]
    assert stored is not None and len(stored["messages"]) == 2 + 2 * 75
