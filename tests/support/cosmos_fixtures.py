"""Cosmos test targets shared by the fixtures and the tests that need raw access."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from azure.cosmos import CosmosClient

from conversation_store import aio
from conversation_store.stores.cosmos.boundary import RetryPolicy
from conversation_store.stores.cosmos.config import NO_DEFAULT_TTL, PARTITION_KEY
from conversation_store.stores.cosmos.items import SizeLimits
from conversation_store.stores.cosmos.store import CosmosStore
from support.local_cosmos import LocalCosmosServer

TEST_DATABASE = "GenAI_tests"
# Small items, so the contract tests also cross the bound and seal segments.
TEST_LIMITS = SizeLimits(item_bytes=8 * 1024)
# Quick retries, for tests that inject faults.
FAST_RETRY = RetryPolicy(attempts=4, initial_backoff=0.01, max_backoff=0.05)


@dataclass(frozen=True)
class CosmosTarget:
    endpoint: str
    key: str
    verify_tls: bool
    server: LocalCosmosServer | None


@contextmanager
def fresh_container(target: CosmosTarget) -> Iterator[str]:
    """A new container in the test database, deleted afterwards; TTL on, as in production."""
    name = f"conversations_{uuid.uuid4().hex[:12]}"
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    database = client.create_database_if_not_exists(TEST_DATABASE)
    database.create_container_if_not_exists(
        name, partition_key=PARTITION_KEY, default_ttl=NO_DEFAULT_TTL
    )
    try:
        yield name
    finally:
        database.delete_container(name)
        client.close()


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


def open_aio_cosmos_store(
    target: CosmosTarget, container: str, **kwargs: object
) -> aio.CosmosStore:
    options: dict[str, object] = {"limits": TEST_LIMITS, **kwargs}
    return aio.CosmosStore.from_endpoint(
        target.endpoint,
        credential=target.key,
        database=TEST_DATABASE,
        container=container,
        connection_verify=target.verify_tls,
        **options,  # type: ignore[arg-type]
    )
