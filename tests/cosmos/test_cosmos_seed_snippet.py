"""The seed's snippet (`ConversationManager()`, create, add, save) as written, with the
environment naming the local Cosmos-compatible server; the item is read back with the bare SDK."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from azure.cosmos import ContainerProxy

from conversation_store import OutboxStore, Settings, aio
from conversation_store.settings import variable_of
from support.cosmos_fixtures import TEST_DATABASE, CosmosTarget
from support.seed_snippet import run_seed_snippet

pytestmark = pytest.mark.cosmos


@pytest.fixture
def cosmos_environment(
    cosmos_container: tuple[CosmosTarget, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The COSMOSDB_* variables of the test container, and an empty working directory."""
    target, name = cosmos_container
    for field in Settings.model_fields:
        monkeypatch.delenv(variable_of(field), raising=False)
    monkeypatch.setenv("COSMOSDB_ENDPOINT", target.endpoint)
    monkeypatch.setenv("COSMOSDB_KEY", target.key)
    monkeypatch.setenv("COSMOSDB_DATABASE", TEST_DATABASE)
    monkeypatch.setenv("COSMOSDB_AIConversations_CONTAINER", name)
    monkeypatch.setenv("COSMOSDB_INSECURE_EMULATOR_TLS", str(not target.verify_tls).lower())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_seed_snippet_runs_as_written_against_cosmos(
    cosmos_environment: Path, raw: ContainerProxy
) -> None:
    seed = run_seed_snippet()

    manager, doc = seed["conversation_manager"], seed["conversation_doc"]
    assert isinstance(manager.store, OutboxStore)  # Cosmos DB, with the degraded-mode outbox
    assert manager.pending_count() == 0  # saved in Cosmos DB, nothing left queued
    manager.close()
    assert (cosmos_environment / "data" / "outbox.db").is_file()
    item = raw.read_item(doc.id, partition_key="user_123")
    assert (item["customer_id"], item["session_id"]) == ("user_123", "session_456")
    assert [(m["role"], m["content"]) for m in item["messages"]] == [("user", "Hello")]


async def test_the_aio_manager_with_no_store_saves_to_cosmos(
    cosmos_environment: Path, raw: ContainerProxy
) -> None:
    async with aio.ConversationManager() as manager:
        assert isinstance(manager.store, aio.CosmosStore)
        doc = manager.create_conversation_document(customer_id="user_123", session_id="s")
        manager.add_message_to_conversation(doc, role="user", content="Hello")
        await manager.save_conversation(doc)
    item = await asyncio.to_thread(raw.read_item, doc.id, partition_key="user_123")
    assert [(m["role"], m["content"]) for m in item["messages"]] == [("user", "Hello")]
