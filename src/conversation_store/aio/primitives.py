"""The few things the async code does differently from its sync twin, each behind one name.

`conversation_store.primitives` holds the sync versions under the same names (hand-written:
they are the only code that must differ), so `scripts/unasync.py` only has to rewrite this
module's import in the async sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeAlias, TypeVar

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
