"""The few things the async code does differently from its sync twin, each behind one name.

`conversation_store.primitives` holds the sync versions under the same names (hand-written:
they are the only code that must differ), so `scripts/unasync.py` only has to rewrite this
module's import in the async sources.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, ParamSpec, Protocol, TypeAlias, TypeVar

from conversation_store.exceptions import StoreClosedError

P = ParamSpec("P")
T = TypeVar("T")

# A function of P whose result is T: here a coroutine function, in the sync twin a plain one.
Function: TypeAlias = Callable[P, Awaitable[T]]

Lock = asyncio.Lock
sleep = asyncio.sleep


async def next_page(pages: AsyncIterator[AsyncIterable[T]]) -> list[T] | None:
    """The next page of an SDK page iterator, read whole; None after the last one.

    The SDK advances its position only once a page arrived, so a retried call asks again.
    """
    try:
        page = await anext(pages)
    except StopAsyncIteration:
        return None
    return [item async for item in page]


class Closable(Protocol):
    """A client or credential that this code opened and must close."""

    def close(self) -> Awaitable[None]: ...


@dataclass
class _Slot(Generic[T]):
    """What one event loop opened, and the guard that closes it when the loop shuts down."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    value: T | None = None
    resources: list[Closable] = field(default_factory=list)
    guard: AsyncIterator[None] | None = None  # held here: the loop keeps only a weak reference


class PerLoop(Generic[T]):
    """One `T` per event loop, made by `open_` on first use in that loop. Thread-safe.

    An async client belongs to the loop it was made on (the Cosmos SDK's aiohttp session, an
    async credential's, psycopg's pool and its worker tasks): used from another loop it fails
    ("Event loop is closed") or hangs. So each loop gets its own, and what `open_` opened for
    it is closed when that loop shuts down (`asyncio.run`, `asyncio.Runner` and pytest-asyncio
    shut down async generators before they close a loop), or by close(), whichever comes first.
    """

    def __init__(self, open_: Function[[], tuple[T, Sequence[Closable]]], *, owner: str) -> None:
        self._open = open_
        self._owner = owner  # who is closed, in the StoreClosedError
        self._lock = threading.Lock()  # guards the slots: loops run on different threads
        self._slots: dict[asyncio.AbstractEventLoop, _Slot[T]] = {}
        self._closed = False

    async def get(self) -> T:
        """This loop's value, opening it first. Raises StoreClosedError after close()."""
        loop = asyncio.get_running_loop()
        slot = self._slot(loop)
        async with slot.lock:
            if slot.value is None:
                value, resources = await self._open()
                slot.resources = list(resources)
                slot.guard = guard = self._closed_with_loop(loop, slot)
                await anext(guard)  # the loop now tracks the guard, and closes it at shutdown
                slot.value = value
            if self._closed:  # close() ran while this loop was opening
                await self._release(slot)
                self._check_open()
            return slot.value

    async def close(self) -> None:
        """Close what every loop opened: this loop's now, another live loop's on that loop,
        without waiting for it (so this never hangs on a loop that is busy or stopped)."""
        with self._lock:
            self._closed = True
            slots, self._slots = self._slots, {}
        current = asyncio.get_running_loop()
        for loop, slot in slots.items():
            if loop is current:
                await self._release(slot)
            elif not loop.is_closed():
                release = self._release(slot)
                try:
                    asyncio.run_coroutine_threadsafe(release, loop)
                except RuntimeError:  # it closed meanwhile, after its guard released the slot
                    release.close()

    def _slot(self, loop: asyncio.AbstractEventLoop) -> _Slot[T]:
        with self._lock:
            self._check_open()
            # A loop closed without shutting down its async generators cannot close what it
            # opened any more: let it go (aiohttp then warns of the unclosed session).
            for dead in [other for other in self._slots if other.is_closed()]:
                del self._slots[dead]
            return self._slots.setdefault(loop, _Slot())

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"{self._owner} is closed")

    async def _closed_with_loop(
        self, loop: asyncio.AbstractEventLoop, slot: _Slot[T]
    ) -> AsyncIterator[None]:
        try:
            yield
        finally:
            with self._lock:
                if self._slots.get(loop) is slot:
                    del self._slots[loop]
            await self._release(slot)

    async def _release(self, slot: _Slot[T]) -> None:
        """Close what `slot` opened, once: close() and the loop's shutdown may both call it."""
        with self._lock:
            resources, slot.resources = slot.resources, []
        for resource in resources:
            await resource.close()
