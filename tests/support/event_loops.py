"""Helpers of the tests that use one async store from several event loops and threads."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
HANG_GUARD_SECONDS = 120  # a bound on joins only, so a hang fails the test instead of the run


def open_objects(kind: type, is_closed: Callable[[Any], bool]) -> set[int]:
    """The ids of the live objects of `kind` that are not closed (clients, sessions, pools)."""
    gc.collect()
    return {id(obj) for obj in gc.get_objects() if isinstance(obj, kind) and not is_closed(obj)}


def run_in_threads(work: Callable[[int], Coroutine[Any, Any, T]], count: int) -> list[T]:
    """`work(i)` under `asyncio.run` on `count` threads at once (each its own event loop);
    their results in order. Raises what a thread raised; fails if a thread does not finish."""
    results: dict[int, T] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(count, timeout=HANG_GUARD_SECONDS)

    def thread_main(index: int) -> None:
        try:
            start.wait()
            results[index] = asyncio.run(work(index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread_main, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD_SECONDS)
    assert not [t for t in threads if t.is_alive()], "a thread's event loop hung"
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


class LoopThread:
    """An event loop running on a thread of its own, as a long-lived worker's loop is."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the thread's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(HANG_GUARD_SECONDS)

    def finish_pending_tasks(self) -> None:
        """Wait for every task the loop runs (e.g. what another loop scheduled on it)."""

        async def others() -> None:
            current = asyncio.current_task()
            await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not current))

        self.run(others())

    def stop(self) -> None:
        """Stop the loop, then shut it down as asyncio.run does."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(HANG_GUARD_SECONDS)
        assert not self._thread.is_alive(), "the thread's event loop hung"
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
