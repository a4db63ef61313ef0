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


def _answer_lost_once(monkeypatch: pytest.MonkeyPatch, module: object) -> list[int]:
    """Make the first unit of work on `module`'s connections lose its answer: it runs and
    commits on the real server, then the client sees the connection drop (the retry layer
    runs it again). Returns how many units ran."""
    real = module._on_connection  # type: ignore[attr-defined]
    runs: list[int] = []

    def lossy(pool: object, work: object) -> object:
        result = real(pool, work)
        runs.append(1)
        if len(runs) == 1:
            raise psycopg.OperationalError("injected: the answer to COMMIT was lost")
        return result

    async def lossy_async(pool: object, work: object) -> object:
        result = await real(pool, work)
        runs.append(1)
        if len(runs) == 1:
            raise psycopg.OperationalError("injected: the answer to COMMIT was lost")
        return result

    is_async = module.__name__.startswith("conversation_store.aio")  # type: ignore[attr-defined]
    monkeypatch.setattr(module, "_on_connection", lossy_async if is_async else lossy)
    return runs


def test_a_create_whose_commit_answer_was_lost_is_recognised_by_its_retry(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conversation_store.stores.postgres import twin

    manager = ConversationManager(pg_store)
    doc = manager.create_conversation_document("alice", "s1", title="once")
    manager.add_message_to_conversation(doc, "user", "hello")
    pg_store.list_conversations("alice", limit=1)  # the pool opens before the fault is armed
    runs = _answer_lost_once(monkeypatch, twin)

    created = pg_store.create_conversation(doc)

    assert len(runs) == 2  # the first attempt committed; the retry found it
    assert [m.id for m in created.messages] == [m.id for m in doc.messages]
    stored = pg_store.get_conversation(ConversationKey("alice", doc.id))
    assert stored.message_count == 1 and stored.title == "once"


def test_a_create_that_meets_another_conversation_is_still_a_conflict(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conversation_store import ConflictError
    from conversation_store.stores.postgres import twin

    manager = ConversationManager(pg_store)
    first = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(first, "user", "first")
    pg_store.create_conversation(first)
    other = manager.create_conversation_document("alice", "s1", conversation_id=first.id)
    manager.add_message_to_conversation(other, "user", "other")
    runs = _answer_lost_once(monkeypatch, twin)

    with pytest.raises(ConflictError):
        pg_store.create_conversation(other)  # run once: conflict, no retry

    assert runs == []  # a conflict is final: the unit raised and was not run again
    stored = pg_store.get_conversation(ConversationKey("alice", first.id))
    assert [m.content for m in stored.messages] == ["first"]


async def test_the_async_store_recognises_its_create_after_a_lost_commit_answer(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conversation_store import aio
    from conversation_store.aio import postgres

    async with postgres.PostgresStore(postgres_url) as store:
        manager = aio.ConversationManager(store)
        doc = manager.create_conversation_document("alice", "s1")
        manager.add_message_to_conversation(doc, "user", "hello")
        await store.list_conversations("alice", limit=1)
        runs = _answer_lost_once(monkeypatch, postgres)

        created = await store.create_conversation(doc)

        assert len(runs) == 2
        assert [m.id for m in created.messages] == [m.id for m in doc.messages]
