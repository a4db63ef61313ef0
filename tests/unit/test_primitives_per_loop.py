"""`primitives.PerLoop`: one value per event loop (one in the sync twin), opened once, closed
once, on its own loop, when that loop shuts down or on close(). Fakes at our own `Closable`."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import pytest

from conversation_store import StoreClosedError, primitives
from conversation_store.aio import primitives as aio_primitives
from support.event_loops import LoopThread, run_in_threads


@dataclass
class Client:
    """A fake client recording on which loop it closed (and how often)."""

    made_on: asyncio.AbstractEventLoop | None
    closed_on: list[asyncio.AbstractEventLoop | None] = field(default_factory=list)

    async def close(self) -> None:
        self.closed_on.append(asyncio.get_running_loop())


@dataclass
class Opener:
    """An `open_` function making one Client per call; `fail` makes the next call raise."""

    made: list[Client] = field(default_factory=list)
    fail: bool = False
    started: asyncio.Event | None = None
    release: asyncio.Event | None = None

    async def __call__(self) -> tuple[Client, list[Client]]:
        if self.started is not None and self.release is not None:
            self.started.set()
            await self.release.wait()
        if self.fail:
            self.fail = False
            raise ConnectionError("refused")
        client = Client(asyncio.get_running_loop())
        self.made.append(client)
        return client, [client]


def test_each_asyncio_run_gets_its_own_value_closed_as_its_loop_shuts_down() -> None:
    opener = Opener()
    per_loop = aio_primitives.PerLoop(opener, owner="Thing")

    async def use_twice() -> Client:
        first, second = await asyncio.gather(per_loop.get(), per_loop.get())
        assert first is second
        return first

    one, two = asyncio.run(use_twice()), asyncio.run(use_twice())
    assert one is not two and opener.made == [one, two]
    assert one.closed_on == [one.made_on] and two.closed_on == [two.made_on]
    asyncio.run(per_loop.close())
    assert one.closed_on == [one.made_on]  # closed once


def test_a_failed_open_raises_and_the_next_use_opens_again() -> None:
    opener = Opener(fail=True)
    per_loop = aio_primitives.PerLoop(opener, owner="Thing")

    async def use() -> Client:
        with pytest.raises(ConnectionError):
            await per_loop.get()
        return await per_loop.get()

    client = asyncio.run(use())
    assert opener.made == [client] and client.closed_on == [client.made_on]


def test_close_while_a_loop_is_opening_closes_what_it_opened() -> None:
    async def race() -> Opener:
        opener = Opener(started=asyncio.Event(), release=asyncio.Event())
        per_loop = aio_primitives.PerLoop(opener, owner="Thing")
        getting = asyncio.create_task(per_loop.get())
        assert opener.started is not None and opener.release is not None
        await opener.started.wait()
        await per_loop.close()
        opener.release.set()
        with pytest.raises(StoreClosedError, match=r"^Thing is closed$"):
            await getting
        return opener

    opener = asyncio.run(race())
    assert [client.closed_on for client in opener.made] == [[opener.made[0].made_on]]


def test_close_on_one_loop_closes_another_running_loops_value_on_that_loop() -> None:
    opener = Opener()
    per_loop = aio_primitives.PerLoop(opener, owner="Thing")
    worker = LoopThread()
    try:
        client = worker.run(per_loop.get())
        asyncio.run(per_loop.close())
        worker.finish_pending_tasks()
        assert client.closed_on == [worker.loop]
        with pytest.raises(StoreClosedError):
            worker.run(per_loop.get())
    finally:
        worker.stop()
    assert client.closed_on == [worker.loop]  # the loop's shutdown did not close it again


def test_threads_with_their_own_loops_each_get_their_own_value() -> None:
    opener = Opener()
    per_loop = aio_primitives.PerLoop(opener, owner="Thing")

    async def use(index: int) -> Client:
        return await per_loop.get()

    clients = run_in_threads(use, 4)
    assert len({id(client) for client in clients}) == 4
    assert all(client.closed_on == [client.made_on] for client in clients)


def test_the_sync_twin_opens_once_for_every_thread_and_closes_once() -> None:
    closed: list[str] = []

    class SyncClient:
        def close(self) -> None:
            closed.append("closed")

    made: list[SyncClient] = []

    def open_() -> tuple[SyncClient, list[SyncClient]]:
        made.append(SyncClient())
        return made[-1], [made[-1]]

    per_loop = primitives.PerLoop(open_, owner="Thing")
    seen: list[SyncClient] = []
    threads = [threading.Thread(target=lambda: seen.append(per_loop.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and seen == made * 4
    per_loop.close()
    per_loop.close()
    assert closed == ["closed"]
    with pytest.raises(StoreClosedError, match=r"^Thing is closed$"):
        per_loop.get()
