"""The sync versions of `conversation_store.aio.primitives`, under the same names.

These are the only lines the sync and async code must write differently; everything else of
the twins is generated from the async source by `scripts/unasync.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import ParamSpec, TypeAlias, TypeVar

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
