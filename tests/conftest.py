"""Fixtures shared by every test folder: one store per backend, and a manager over it.

The Cosmos backend runs against the local Cosmos-compatible server (started once per test
session), or against the official emulator or a real account when `COSMOS_TEST_ENDPOINT`
(+ `COSMOS_TEST_KEY`) is set. Each test gets its own container, so tests never share data.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.cosmos import CosmosClient

from conversation_store import ConversationManager, ConversationStore, MemoryStore, SQLiteStore
from conversation_store.stores.cosmos import CosmosStore
from conversation_store.stores.cosmos_config import PARTITION_KEY
from conversation_store.stores.documents import SizeLimits
from support.local_cosmos import EMULATOR_KEY, LocalCosmosServer

StoreFactory = Callable[[], ConversationStore]
TEST_DATABASE = "GenAI_tests"
# Small items, so the contract tests also cross the bound and seal segments.
TEST_LIMITS = SizeLimits(item_bytes=8 * 1024)


@dataclass(frozen=True)
class CosmosTarget:
    endpoint: str
    key: str
    verify_tls: bool
    server: LocalCosmosServer | None


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


@contextmanager
def fresh_container(target: CosmosTarget) -> Iterator[str]:
    """A new container in the test database, deleted afterwards."""
    name = f"conversations_{uuid.uuid4().hex[:12]}"
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    database = client.create_database_if_not_exists(TEST_DATABASE)
    database.create_container_if_not_exists(name, partition_key=PARTITION_KEY)
    try:
        yield name
    finally:
        database.delete_container(name)
        client.close()


@pytest.fixture
def cosmos_container(cosmos_target: CosmosTarget) -> Iterator[tuple[CosmosTarget, str]]:
    with fresh_container(cosmos_target) as name:
        yield cosmos_target, name


def open_cosmos_store(target: CosmosTarget, container: str, **kwargs: object) -> CosmosStore:
    options: dict[str, object] = {"limits": TEST_LIMITS, **kwargs}
    return CosmosStore.from_endpoint(
        target.endpoint,
        credential=target.key,
        database=TEST_DATABASE,
        container=container,
        connection_verify=target.verify_tls,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens a store of one backend; every store it opens shares that backend's data."""
    if request.param == "memory":
        return MemoryStore
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "conversations.db")
    target, container = request.getfixturevalue("cosmos_container")
    return lambda: open_cosmos_store(target, container)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[ConversationStore]:
    opened = store_factory()
    yield opened
    opened.close()


@pytest.fixture
def manager(store: ConversationStore) -> ConversationManager:
    return ConversationManager(store)
