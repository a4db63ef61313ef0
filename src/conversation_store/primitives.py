"""The sync versions of `conversation_store.aio.primitives`, under the same names.

These are the only lines the sync and async code must write differently; everything else of
the twins is generated from the async source by `scripts/unasync.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, ParamSpec, Protocol, TypeAlias, TypeVar

from conversation_store.exceptions import StoreClosedError

P = ParamSpec("P")
T = TypeVar("T")

# A function of P whose result is T (a coroutine function in the async code).
Function: TypeAlias = Callable[P, T]

Lock = threading.Lock
sleep = time.sleep


def next_page(pages: Iterator[Iterable[T]]) -> list[T] | None:
    """The next page of an SDK page iterator, read whole; None after the last one.

    The SDK advances its position only once a page arrived, so a retried call asks again.
    """
    page = next(pages, None)
    return None if page is None else list(page)


class Closable(Protocol):
    """A client or credential that this code opened and must close."""

    def close(self) -> None: ...


class PerLoop(Generic[T]):
    """The sync twin has no event loops: one `T` for every thread, made by `open_` on first
    use (the sync SDK clients are thread-safe) and closed by close(). Thread-safe."""

    def __init__(self, open_: Function[[], tuple[T, Sequence[Closable]]], *, owner: str) -> None:
        self._open = open_
        self._owner = owner  # who is closed, in the StoreClosedError
        self._lock = threading.Lock()
        self._opened: tuple[T, Sequence[Closable]] | None = None
        self._closed = False

    def get(self) -> T:
        """The value, opening it first. Raises StoreClosedError after close()."""
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"{self._owner} is closed")
            if self._opened is None:
                self._opened = self._open()
            return self._opened[0]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, None
        for resource in opened[1] if opened is not None else ():
            resource.close()
