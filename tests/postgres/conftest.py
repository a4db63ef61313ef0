"""Fixtures of the PostgreSQL tests: a sync and an async store over one fresh schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from conversation_store.aio.postgres import PostgresStore as AsyncPostgresStore
from conversation_store.stores.postgres.store import PostgresStore


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[PostgresStore]:
    with PostgresStore(postgres_url) as store:
        yield store


@pytest.fixture
async def pg_async_store(postgres_url: str) -> AsyncIterator[AsyncPostgresStore]:
    async with AsyncPostgresStore(postgres_url) as store:
        yield store
