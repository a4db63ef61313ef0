"""The async PostgresStore from any event loop and any thread: successive `asyncio.run` calls,
four threads each running its own loop (each loop its own pool, small enough that callers wait
for a connection), and close() from another loop; every pool it opened is closed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from psycopg_pool import AsyncConnectionPool

from conversation_store import StoreClosedError, aio
from conversation_store.aio.postgres import PostgresStore
from conversation_store.models import ConversationKey
from support.event_loops import LoopThread, open_objects, run_in_threads

pytestmark = pytest.mark.postgres

THREADS = 4
APPENDS_PER_THREAD = 5


def open_pools() -> set[int]:
    return open_objects(AsyncConnectionPool, lambda pool: pool.closed)


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres_url, max_size=2)
    before = open_pools()
    yield opened
    asyncio.run(opened.close())
    assert open_pools() <= before, "a pool of the store was left open"


def test_two_successive_asyncio_runs_and_a_close_on_a_third(store: PostgresStore) -> None:
    manager = aio.ConversationManager(store)

    async def create() -> str:
        doc = manager.create_conversation_document("alice", "s1")
        manager.add_message_to_conversation(doc, "user", "first run")
        await manager.save_conversation(doc)
        return doc.id

    async def append_and_load(conversation_id: str) -> list[str]:
        await manager.append_message(conversation_id, "alice", "assistant", "second run")
        loaded = await manager.load_conversation(conversation_id, "alice")
        return [str(m.content) for m in loaded.messages]

    before = open_pools()
    conversation_id = asyncio.run(create())
    assert open_pools() <= before  # the first loop closed its pool as it shut down
    assert asyncio.run(append_and_load(conversation_id)) == ["first run", "second run"]
    asyncio.run(store.close())
    with pytest.raises(StoreClosedError):
        asyncio.run(store.get_conversation(ConversationKey("alice", conversation_id)))


def test_four_threads_with_their_own_loops_append_to_one_conversation(
    store: PostgresStore,
) -> None:
    manager = aio.ConversationManager(store)

    async def create() -> str:
        doc = manager.create_conversation_document("alice", "shared")
        await manager.save_conversation(doc)
        return doc.id

    shared = asyncio.run(create())

    async def work(index: int) -> None:
        await asyncio.gather(
            *(
                manager.append_message(shared, "alice", "user", f"{index}:{n}")
                for n in range(APPENDS_PER_THREAD)
            )
        )

    run_in_threads(work, THREADS)

    async def contents() -> list[str]:
        loaded = await manager.load_conversation(shared, "alice")
        return [str(m.content) for m in loaded.messages]

    expected = [f"{i}:{n}" for i in range(THREADS) for n in range(APPENDS_PER_THREAD)]
    assert sorted(asyncio.run(contents())) == expected
    asyncio.run(store.close())


def test_close_from_another_loop_closes_the_pool_of_a_running_loop(store: PostgresStore) -> None:
    worker = LoopThread()
    try:
        before = open_pools()
        manager = aio.ConversationManager(store)
        worker.run(manager.save_conversation(manager.create_conversation_document("alice", "s")))
        assert len(open_pools() - before) == 1  # the running loop's pool

        asyncio.run(store.close())  # on another loop: the worker's pool closes on its loop
        worker.finish_pending_tasks()
        assert open_pools() <= before
        with pytest.raises(StoreClosedError):
            worker.run(store.get_conversation(ConversationKey("alice", "c_missing")))
    finally:
        worker.stop()
