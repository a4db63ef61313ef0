"""The async store that `Settings` name."""

from __future__ import annotations

from conversation_store.aio.cosmos import CosmosStore
from conversation_store.aio.embedded import MemoryStore, SQLiteStore
from conversation_store.aio.protocol import ConversationStore
from conversation_store.settings import Settings, sqlite_path


def open_store(settings: Settings) -> ConversationStore:
    """Open the store `settings` name (no I/O yet). The caller owns it and must close it."""
    if settings.backend == "memory":
        return MemoryStore()
    if settings.backend == "sqlite":
        return SQLiteStore(sqlite_path(settings.store_url))
    assert settings.cosmos_endpoint is not None
    return CosmosStore.from_endpoint(
        settings.cosmos_endpoint,
        credential=settings.cosmos_key,
        database=settings.cosmos_database,
        container=settings.cosmos_container,
        create_if_missing=settings.cosmos_create_if_missing,
        connection_verify=settings.cosmos_verify_tls,
    )
