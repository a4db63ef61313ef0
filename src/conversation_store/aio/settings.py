"""The async store that `Settings` name."""

from __future__ import annotations

from conversation_store.aio.cosmos import CosmosStore
from conversation_store.aio.embedded import MemoryStore, SQLiteStore
from conversation_store.aio.protocol import ConversationStore
from conversation_store.settings import Settings, cosmos_arguments, sqlite_path


def open_store(settings: Settings) -> ConversationStore:
    """Open the store `settings` name (no I/O yet). The caller owns it and must close it."""
    if settings.backend == "memory":
        return MemoryStore()
    if settings.backend == "sqlite":
        return SQLiteStore(sqlite_path(settings.store_url), synchronous=settings.sqlite_synchronous)
    if settings.backend == "postgres":
        # psycopg comes with the optional `postgres` extra, so it is imported only here.
        from conversation_store.aio.postgres import PostgresStore

        return PostgresStore.from_url(settings.store_url)
    endpoint, options = cosmos_arguments(settings)
    return CosmosStore.from_endpoint(endpoint, **options)
