"""Fixtures of the Cosmos-specific tests: a store that records its requests and charges, and
the same container through the bare SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.cosmos import ContainerProxy, CosmosClient

from conversation_store.stores.cosmos.boundary import RequestCharge
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import FAST_RETRY, TEST_DATABASE, CosmosTarget, open_cosmos_store
from support.transport import RecordingTransport


@pytest.fixture
def raw(cosmos_container: tuple[CosmosTarget, str]) -> Iterator[ContainerProxy]:
    """The same container through the bare SDK, to look at the items as Cosmos holds them."""
    target, name = cosmos_container
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    yield client.get_database_client(TEST_DATABASE).get_container_client(name)
    client.close()


@pytest.fixture
def transport() -> Iterator[RecordingTransport]:
    """A transport for the test's store, closed after it: a store never closes a transport
    it was given."""
    transport = RecordingTransport(connection_verify=False)
    yield transport
    transport.close()


@pytest.fixture
def charges() -> list[RequestCharge]:
    return []


@pytest.fixture
def cosmos(
    cosmos_container: tuple[CosmosTarget, str],
    transport: RecordingTransport,
    charges: list[RequestCharge],
) -> Iterator[CosmosStore]:
    target, name = cosmos_container
    store = open_cosmos_store(
        target, name, transport=transport, retry=FAST_RETRY, on_charge=charges.append
    )
    yield store
    store.close()
