"""`aio.CosmosStore` from any event loop and any thread: successive `asyncio.run` calls, four
threads each running its own loop, and close() from another loop; every client it made is
closed (no aiohttp session left open), and nothing hangs (threads are joined with a bound).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from conversation_store import StoreClosedError, aio
from conversation_store.models import ConversationKey
from support.cosmos_fixtures import CosmosTarget, open_aio_cosmos_store
from support.event_loops import LoopThread, open_objects, run_in_threads

pytestmark = pytest.mark.cosmos

THREADS = 4
APPENDS_PER_THREAD = 5


def open_sessions() -> set[int]:
    """The aiohttp sessions not closed: each async SDK client holds one."""
    return open_objects(aiohttp.ClientSession, lambda session: session.closed)


@pytest.fixture
def store(cosmos_container: tuple[CosmosTarget, str]) -> Iterator[aio.CosmosStore]:
    """An async store no loop has used yet; each test closes it (the fixture only if not)."""
    target, name = cosmos_container
    opened = open_aio_cosmos_store(target, name)
    before = open_sessions()
    yield opened
    asyncio.run(opened.close())
    assert open_sessions() <= before, "a client of the store was left open"


def test_two_successive_asyncio_runs_use_one_store(store: aio.CosmosStore) -> None:
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

    before = open_sessions()
    conversation_id = asyncio.run(create())
    assert open_sessions() <= before  # the first loop closed its client as it shut down
    assert asyncio.run(append_and_load(conversation_id)) == ["first run", "second run"]
    asyncio.run(store.close())
    with pytest.raises(StoreClosedError):
        asyncio.run(store.get_conversation(ConversationKey("alice", conversation_id)))


def test_four_threads_with_their_own_loops_append_to_one_conversation_and_their_own(
    store: aio.CosmosStore,
) -> None:
    manager = aio.ConversationManager(store)

    async def create(customer_id: str) -> str:
        doc = manager.create_conversation_document(customer_id, "shared")
        await manager.save_conversation(doc)
        return doc.id

    async def contents(conversation_id: str, customer_id: str) -> list[str]:
        loaded = await manager.load_conversation(conversation_id, customer_id)
        return [str(m.content) for m in loaded.messages]

    shared = asyncio.run(create("alice"))

    async def work(index: int) -> str:
        own = await create(f"thread_{index}")
        for n in range(APPENDS_PER_THREAD):
            await manager.append_message(shared, "alice", "user", f"{index}:{n}")
            await manager.append_message(own, f"thread_{index}", "user", f"{n}")
        return own

    owns = run_in_threads(work, THREADS)

    expected = [f"{i}:{n}" for i in range(THREADS) for n in range(APPENDS_PER_THREAD)]
    assert sorted(asyncio.run(contents(shared, "alice"))) == expected
    for index, own in enumerate(owns):
        own_contents = asyncio.run(contents(own, f"thread_{index}"))
        assert own_contents == [str(n) for n in range(APPENDS_PER_THREAD)]
    asyncio.run(store.close())


def test_close_from_another_loop_closes_the_client_of_a_running_loop(
    store: aio.CosmosStore,
) -> None:
    worker = LoopThread()
    try:
        before = open_sessions()
        manager = aio.ConversationManager(store)
        doc = manager.create_conversation_document("alice", "s1")
        worker.run(manager.save_conversation(doc))
        assert len(open_sessions() - before) == 1  # the running loop's client

        asyncio.run(store.close())  # on another loop: the worker's client closes on its loop
        worker.finish_pending_tasks()
        assert open_sessions() <= before
        with pytest.raises(StoreClosedError):
            worker.run(store.get_conversation(ConversationKey("alice", doc.id)))
    finally:
        worker.stop()


async def test_the_store_serves_the_loop_of_an_async_test_too(store: aio.CosmosStore) -> None:
    manager = aio.ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "hello")
    await manager.save_conversation(doc)
    await asyncio.gather(
        *(manager.append_message(doc.id, "alice", "user", f"{n}") for n in range(THREADS))
    )
    loaded = await manager.load_conversation(doc.id, "alice")
    assert sorted(str(m.content) for m in loaded.messages) == ["0", "1", "2", "3", "hello"]
    await store.close()
