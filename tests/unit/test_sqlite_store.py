"""SQLite specifics: WAL, named migrations, threads and processes sharing one file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from conversation_store import ConversationManager, SQLiteStore
from conversation_store.stores.sqlite.migrations import MIGRATIONS, apply_migrations


def _new_conversation(path: Path) -> str:
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        doc = manager.create_conversation_document("alice", "s1")
        manager.add_message_to_conversation(doc, "user", "start")
        manager.save_conversation(doc)
        return doc.id


def test_opens_in_wal_mode_with_every_migration_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    SQLiteStore(path).close()
    SQLiteStore(path).close()

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert apply_migrations(db) == []


def test_threads_appending_to_one_conversation_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conversation_id = _new_conversation(path)
    manager = ConversationManager(SQLiteStore(path), owns_store=True)

    def write(worker: int) -> None:
        for n in range(50):
            manager.append_message(conversation_id, "alice", "user", f"{worker}:{n}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    loaded = manager.load_conversation(conversation_id, "alice")
    contents = [m.content for m in loaded.messages[1:]]
    assert sorted(contents) == sorted(f"{w}:{n}" for w in range(4) for n in range(50))
    assert loaded.message_count == 201
    for worker in range(4):  # each writer's messages stay in its own order
        mine = [c for c in contents if c and c.startswith(f"{worker}:")]
        assert mine == [f"{worker}:{n}" for n in range(50)]
    manager.close()


def test_two_processes_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    conversation_id = _new_conversation(path)
    script = (
        "import sys\n"
        "from conversation_store import ConversationManager\n"
        "m = ConversationManager.from_url('sqlite:///' + sys.argv[1])\n"
        "for n in range(40): m.append_message(sys.argv[2], 'alice', 'user', sys.argv[3] + str(n))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), conversation_id, tag])
        for tag in ("p", "q")
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        loaded = manager.load_conversation(conversation_id, "alice")
    assert loaded.message_count == len(loaded.messages) == 81


_CLOSE_UNDER_READERS = """
import sys, threading, time
from conversation_store import ConversationManager, SQLiteStore
from conversation_store.exceptions import StoreClosedError
from conversation_store.models import ConversationKey
from conversation_store.stores.outbox.queue import OutboxQueue

def race(reads, close):
    endings, started = [], threading.Barrier(5)
    def loop():
        started.wait()
        try:
            while True:
                reads()
        except StoreClosedError:
            endings.append("closed")
        except Exception as exc:
            endings.append(repr(exc))
    threads = [threading.Thread(target=loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.05)
    close()
    for thread in threads:
        thread.join()
    print(endings)

for round in range(5):
    manager = ConversationManager.from_url(f"sqlite:///{sys.argv[1]}/{round}.db")
    doc = manager.create_conversation_document("alice", "s1")
    for n in range(200):
        manager.add_message_to_conversation(doc, "user", f"message {n}")
    manager.save_conversation(doc)
    race(lambda: (manager.load_conversation(doc.id, "alice"),
                  manager.search_conversations("alice", "message")), manager.close)
    queue = OutboxQueue(f"{sys.argv[1]}/{round}.outbox")
    for n in range(200):
        queue.put(ConversationKey("alice", doc.id), "append", {"n": n})
    race(queue.pending, queue.close)
"""


def test_closing_under_running_readers_ends_them_with_store_closed(tmp_path: Path) -> None:
    """close() from one thread while others read: each reader gets StoreClosedError.

    In a subprocess, because closing a connection under a running statement used to crash the
    interpreter (a segfault CI saw when the app's enricher was still reading)."""
    run = subprocess.run(
        [sys.executable, "-c", _CLOSE_UNDER_READERS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(["closed"] * 4)] * 10
