"""Fixtures shared by every test folder: one store per backend, and a manager over it.

The contract suite is split by capability, as LangGraph's checkpoint conformance suite splits
base and extended capabilities: a test marked `@pytest.mark.capability("search", ...)` runs
only on the backends whose store declares each named capability, and is skipped, with the
reason, on the others. Unmarked tests need only the core protocol and run on every backend.

The Cosmos backend runs against the local Cosmos-compatible server (started once per test
session), or against the official emulator or a real account when `COSMOS_TEST_ENDPOINT`
(+ `COSMOS_TEST_KEY`) is set. Each test gets its own container, so tests never share data.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conversation_store import (
    ConversationManager,
    ConversationStore,
    MemoryStore,
    OutboxStore,
    SQLiteStore,
    SupportsEditing,
    SupportsErasure,
    SupportsExternalIds,
    SupportsOrphanSweep,
    SupportsScans,
    SupportsSearch,
    SupportsShareLinks,
)
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.postgres.store import PostgresStore
from support.cosmos_fixtures import CosmosTarget, fresh_container, open_cosmos_store
from support.local_cosmos import EMULATOR_KEY, LocalCosmosServer
from support.postgres_server import PostgresServer, drop_schema, fresh_schema_url

StoreFactory = Callable[[], ConversationStore]

CAPABILITIES: dict[str, type] = {
    "search": SupportsSearch,
    "editing": SupportsEditing,
    "erasure": SupportsErasure,
    "scans": SupportsScans,
    "orphan_sweep": SupportsOrphanSweep,
    "share_links": SupportsShareLinks,
    "external_ids": SupportsExternalIds,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"capability(*names): needs store capabilities, of {', '.join(CAPABILITIES)}",
    )


def missing_capabilities(store: object, node: pytest.Item) -> list[str]:
    """The capabilities the test `node` is marked to need that `store` does not declare."""
    needed = [name for mark in node.iter_markers("capability") for name in mark.args]
    unknown = set(needed) - set(CAPABILITIES)
    assert not unknown, f"unknown capability marks: {unknown}"
    return [name for name in needed if not isinstance(store, CAPABILITIES[name])]


@pytest.fixture(scope="session")
def cosmos_target() -> Iterator[CosmosTarget]:
    endpoint = os.environ.get("COSMOS_TEST_ENDPOINT")
    if endpoint:
        local = "127.0.0.1" in endpoint or "localhost" in endpoint  # the emulator's own cert
        yield CosmosTarget(
            endpoint, os.environ.get("COSMOS_TEST_KEY", EMULATOR_KEY), not local, None
        )
        return
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    with LocalCosmosServer() as server:
        yield CosmosTarget(server.endpoint, server.key, False, server)


@pytest.fixture
def cosmos_container(cosmos_target: CosmosTarget) -> Iterator[tuple[CosmosTarget, str]]:
    with fresh_container(cosmos_target) as name:
        yield cosmos_target, name


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session, or `POSTGRES_TEST_URL`'s server."""
    existing = os.environ.get("POSTGRES_TEST_URL")
    if existing:
        yield existing
        return
    with PostgresServer() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The URL of a new empty schema, dropped after the test."""
    url, schema = fresh_schema_url(postgres_server_url)
    yield url
    drop_schema(postgres_server_url, schema)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        "outbox",
        pytest.param("cosmos", marks=pytest.mark.cosmos),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens a store of one backend; every store it opens shares that backend's data."""
    if request.param == "memory":
        return MemoryStore
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "conversations.db")
    if request.param == "outbox":  # degraded-mode wrapper over a healthy primary
        return lambda: OutboxStore(
            SQLiteStore(tmp_path / "conversations.db"), OutboxQueue(tmp_path / "outbox.db")
        )
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        return lambda: PostgresStore(url)
    target, container = request.getfixturevalue("cosmos_container")
    return lambda: open_cosmos_store(target, container)


@pytest.fixture
def store(
    store_factory: StoreFactory, request: pytest.FixtureRequest
) -> Iterator[ConversationStore]:
    opened = store_factory()
    missing = missing_capabilities(opened, request.node)
    if missing:
        opened.close()
        pytest.skip(f"{type(opened).__name__} does not declare: {', '.join(missing)}")
    yield opened
    opened.close()


@pytest.fixture
def manager(store: ConversationStore) -> ConversationManager:
    return ConversationManager(store)
