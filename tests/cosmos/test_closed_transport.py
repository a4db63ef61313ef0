"""A transport or container client given to a Cosmos store stays its owner's: the store never
closes it, not even when connecting fails after its client was made and the retry connects
again; and once its owner closed it, the store raises StoreClosedError, never the SDK's bare
ValueError. Sync and async, on the local server."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import CosmosClient
from azure.cosmos.aio import CosmosClient as AsyncCosmosClient

from conversation_store import ConversationManager, StoreClosedError, aio
from conversation_store.stores.cosmos.boundary import CLOSED_TRANSPORT, is_closed_transport
from conversation_store.stores.cosmos.store import CosmosStore
from support.cosmos_fixtures import (
    FAST_RETRY,
    TEST_DATABASE,
    TEST_LIMITS,
    CosmosTarget,
    open_aio_cosmos_store,
    open_cosmos_store,
)
from support.transport import Fault, RecordingTransport

pytestmark = pytest.mark.cosmos

# The container request of `create_if_missing`: the client has read the account and the
# database by then, so the transport is open when connecting fails.
CONTAINER_REQUESTS = "/colls"
CLOSED = "transport of the Cosmos DB client was closed"


class RefusingAioTransport(AioHttpTransport):
    """The SDK's aiohttp transport, refusing the first request whose URL contains
    `url_contains` as a refused connection would (RecordingTransport's "refuse", async)."""

    def __init__(self, url_contains: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._url_contains = url_contains
        self.refused = 0

    async def send(self, request: Any, **kwargs: Any) -> Any:
        if not self.refused and self._url_contains in request.url:
            self.refused += 1
            raise ServiceRequestError("injected: connection refused")
        return await super().send(request, **kwargs)


def aio_store(target: CosmosTarget, name: str, **options: Any) -> aio.CosmosStore:
    return open_aio_cosmos_store(target, name, retry=FAST_RETRY, **options)


def save_and_load(manager: ConversationManager) -> tuple[str, list[str]]:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "hello")
    manager.save_conversation(doc)
    return doc.id, [str(m.content) for m in manager.load_conversation(doc.id, "alice").messages]


async def save_and_load_async(manager: aio.ConversationManager) -> tuple[str, list[str]]:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "hello")
    await manager.save_conversation(doc)
    loaded = await manager.load_conversation(doc.id, "alice")
    return doc.id, [str(m.content) for m in loaded.messages]


# -- sync ---------------------------------------------------------------------------------


def test_a_connect_failing_after_its_client_was_made_leaves_the_callers_transport_open(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport
) -> None:
    target, name = cosmos_container
    transport.inject(Fault("status", url_contains=CONTAINER_REQUESTS, status=503))
    store = open_cosmos_store(
        target, name, transport=transport, retry=FAST_RETRY, create_if_missing=True
    )

    # The first connect failed after its client was made and closed that client; the retry
    # connected again over the same transport.
    assert save_and_load(ConversationManager(store))[1] == ["hello"]
    assert [r.status for r in transport.records if r.fault] == [503]
    store.close()
    assert transport.session is not None, "the store closed the caller's transport"
    transport.close()


def test_a_transport_its_owner_closed_makes_the_store_raise_store_closed(
    cosmos_container: tuple[CosmosTarget, str], transport: RecordingTransport
) -> None:
    target, name = cosmos_container
    store = open_cosmos_store(target, name, transport=transport, retry=FAST_RETRY)
    manager = ConversationManager(store)
    conversation_id, _ = save_and_load(manager)

    transport.close()

    with pytest.raises(StoreClosedError, match=CLOSED):
        manager.load_conversation(conversation_id, "alice")
    with pytest.raises(StoreClosedError, match=CLOSED):
        manager.append_message(conversation_id, "alice", "user", "lost?")
    store.close()


def test_a_container_client_its_owner_closed_makes_the_store_raise_store_closed(
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    target, name = cosmos_container
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    container = client.get_database_client(TEST_DATABASE).get_container_client(name)
    manager = ConversationManager(CosmosStore(container, limits=TEST_LIMITS, retry=FAST_RETRY))
    conversation_id, _ = save_and_load(manager)

    client.close()

    with pytest.raises(StoreClosedError, match=CLOSED):
        manager.load_conversation(conversation_id, "alice")


# -- async --------------------------------------------------------------------------------


async def test_an_async_connect_failing_after_its_client_was_made_leaves_the_transport_open(
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    target, name = cosmos_container
    transport = RefusingAioTransport(CONTAINER_REQUESTS, connection_verify=target.verify_tls)
    store = aio_store(target, name, transport=transport, create_if_missing=True)

    assert (await save_and_load_async(aio.ConversationManager(store)))[1] == ["hello"]
    assert transport.refused == 1
    await store.close()
    assert transport.session is not None, "the store closed the caller's transport"
    await transport.close()


async def test_an_async_transport_its_owner_closed_makes_the_store_raise_store_closed(
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    target, name = cosmos_container
    transport = AioHttpTransport(connection_verify=target.verify_tls)
    store = aio_store(target, name, transport=transport)
    manager = aio.ConversationManager(store)
    conversation_id, _ = await save_and_load_async(manager)

    await transport.close()

    with pytest.raises(StoreClosedError, match=CLOSED):
        await manager.load_conversation(conversation_id, "alice")
    await store.close()


async def test_an_async_container_client_its_owner_closed_makes_the_store_raise_store_closed(
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    target, name = cosmos_container
    client = AsyncCosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    container = client.get_database_client(TEST_DATABASE).get_container_client(name)
    store = aio.CosmosStore(container, limits=TEST_LIMITS, retry=FAST_RETRY)
    manager = aio.ConversationManager(store)
    conversation_id, _ = await save_and_load_async(manager)

    await client.close()

    with pytest.raises(StoreClosedError, match=CLOSED):
        await manager.load_conversation(conversation_id, "alice")


# -- recognising the SDK's error ----------------------------------------------------------


def test_only_the_sdks_own_closed_transport_error_is_recognised() -> None:
    transport = RecordingTransport()
    transport.open()
    transport.close()
    with pytest.raises(ValueError) as sdk:
        transport.open()
    assert is_closed_transport(sdk.value)

    with pytest.raises(ValueError) as ours:
        raise ValueError(CLOSED_TRANSPORT)  # the same words, raised outside azure-core
    assert not is_closed_transport(ours.value)
