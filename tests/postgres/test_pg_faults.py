"""Faults on a real server: a connection killed mid-transaction, a server restart.

Both are retried at the store's one retry layer (`stores/postgres/boundary.py`); appends are
idempotent by message id, so a retried append never duplicates a message.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from conversation_store import ConversationManager
from conversation_store.exceptions import StoreUnavailableError
from conversation_store.models import ConversationKey
from conversation_store.stores.postgres.store import PostgresStore
from support.postgres_server import PostgresServer, fresh_schema_url


def _blocked_backend(db: psycopg.Connection[tuple[object, ...]]) -> int:
    """The PID of the backend waiting for a row lock (the store's append)."""
    for _ in range(500):
        row = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
            (db.info.backend_pid,),
        ).fetchone()
        if row is not None:
            return int(str(row[0]))
        time.sleep(0.01)
    raise AssertionError("the append never waited for the lock")


def test_a_connection_killed_mid_transaction_is_retried_without_a_duplicate(
    postgres_url: str,
) -> None:
    with PostgresStore(postgres_url) as store:
        manager = ConversationManager(store)
        conversation = manager.save_conversation(
            manager.create_conversation_document("alice", "s1")
        )
        key = ConversationKey("alice", conversation.id)
        with psycopg.connect(postgres_url) as blocker:
            # Hold the conversation's row lock, so the append stops inside its transaction.
            blocker.execute(
                "SELECT 1 FROM conversations WHERE customer_id = %s AND id = %s FOR UPDATE", key
            )
            done = threading.Event()
            appender = threading.Thread(
                target=lambda: (manager.append_message(*reversed(key), "user", "once"), done.set())
            )
            appender.start()
            with psycopg.connect(postgres_url, autocommit=True) as killer:
                pid = _blocked_backend(killer)
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            blocker.rollback()
        appender.join(timeout=60)
        assert done.is_set()
        stored = store.get_conversation(key)
    assert [m.content for m in stored.messages] == ["once"]
    assert stored.message_count == 1


def test_a_retried_append_after_a_lost_answer_adds_nothing(pg_store: PostgresStore) -> None:
    manager = ConversationManager(pg_store)
    conversation = manager.save_conversation(manager.create_conversation_document("alice", "s1"))
    key = ConversationKey("alice", conversation.id)
    appended = manager.append_message(conversation.id, "alice", "user", "hello")
    pg_store.append_messages(key, [pg_store.get_conversation(key).messages[0]])
    stored = pg_store.get_conversation(key)
    assert [m.id for m in stored.messages] == appended.message_ids
    assert stored.message_count == 1


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    if os.environ.get("POSTGRES_TEST_URL"):
        pytest.skip("restarts a server of its own; POSTGRES_TEST_URL names a shared one")
    with PostgresServer() as server:
        yield server


def test_a_server_restart_mid_conversation_loses_nothing_acknowledged(
    own_server: PostgresServer,
) -> None:
    url, _ = fresh_schema_url(own_server.url)
    acknowledged: list[str] = []
    refused = 0
    with PostgresStore(url, max_size=2) as store:
        manager = ConversationManager(store)
        conversation = manager.save_conversation(
            manager.create_conversation_document("alice", "s1")
        )
        stop = threading.Event()

        def chat() -> None:
            nonlocal refused
            n = 0
            while not stop.is_set():
                try:
                    manager.append_message(conversation.id, "alice", "user", f"turn {n}")
                    acknowledged.append(f"turn {n}")
                except StoreUnavailableError:
                    refused += 1
                n += 1

        writer = threading.Thread(target=chat)
        writer.start()
        while len(acknowledged) < 20:
            time.sleep(0.01)
        own_server.stop()
        own_server.start()
        before = len(acknowledged)
        while len(acknowledged) < before + 20:
            time.sleep(0.01)
        stop.set()
        writer.join(timeout=60)
        stored = store.get_conversation(ConversationKey("alice", conversation.id))
    contents = [m.content for m in stored.messages]
    assert set(acknowledged) <= set(contents)
    assert len(contents) == len(set(contents)) == stored.message_count
    assert refused == 0  # the retries outlasted the restart
