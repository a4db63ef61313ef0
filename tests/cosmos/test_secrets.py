"""The account key never shows in logs, exception messages or reprs."""

from __future__ import annotations

import logging

import pytest

from conversation_store import (
    AccessDeniedError,
    ConversationManager,
    CosmosStore,
    InvalidInputError,
    RetryPolicy,
    Settings,
    StoreUnavailableError,
)
from conversation_store.aio import CosmosStore as AsyncCosmosStore
from support.cosmos_fixtures import CosmosTarget, open_cosmos_store
from support.transport import Fault, RecordingTransport

pytestmark = pytest.mark.cosmos


def test_key_is_absent_from_logs_errors_and_reprs(
    cosmos_container: tuple[CosmosTarget, str], caplog: pytest.LogCaptureFixture
) -> None:
    target, container = cosmos_container
    transport = RecordingTransport(connection_verify=False)
    caplog.set_level(logging.DEBUG)
    store = open_cosmos_store(
        target, container, transport=transport, retry=RetryPolicy(attempts=2, initial_backoff=0.01)
    )
    manager = ConversationManager(store)
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "hello")
    manager.save_conversation(doc)
    errors: list[BaseException] = []
    for fault, expected in (
        # Item reads only: the SDK's background GETs never take a fault meant for the call.
        (Fault("status", url_contains="/docs/", status=401), AccessDeniedError),
        (Fault("status", url_contains="/docs/", status=403), AccessDeniedError),
        (Fault("refuse", url_contains="/docs/", times=5), StoreUnavailableError),
    ):
        transport.inject(fault)
        with pytest.raises(expected) as raised:
            manager.load_conversation(doc.id, "alice")
        errors.append(raised.value)

    settings = Settings.from_env({"COSMOSDB_ENDPOINT": target.endpoint, "COSMOSDB_KEY": target.key})
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(e) + repr(e) + str(e.__cause__) for e in errors]
    texts += [repr(store), repr(manager), repr(settings), str(settings)]
    assert caplog.records  # the SDK did log its requests at DEBUG
    assert not [text for text in texts if target.key in text]
    store.close()
    transport.close()


@pytest.mark.parametrize("key", ["abc", "not base64!", "s3cr3t==x"])
def test_a_key_that_is_not_base64_is_a_typed_error_without_the_key(key: str) -> None:
    for store_class in (CosmosStore, AsyncCosmosStore):
        with pytest.raises(InvalidInputError) as raised:
            store_class.from_endpoint("https://127.0.0.1:1", credential=key)
        assert key not in str(raised.value)
