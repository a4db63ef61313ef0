"""Settings read at the edge (app, CLI, Function) and the store they name.

The library itself never reads the environment: callers pass `Settings.from_env(os.environ)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conversation_store.exceptions import InvalidInputError
from conversation_store.stores.cosmos.config import DEFAULT_CONTAINER, DEFAULT_DATABASE
from conversation_store.stores.cosmos.store import CosmosStore
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore
from conversation_store.stores.protocol import ConversationStore
from conversation_store.stores.sqlite.store import SQLiteStore

DEFAULT_STORE_URL = "sqlite:///data/conversations.db"
DEFAULT_OUTBOX_PATH = "data/outbox.db"
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Settings:
    """Where conversations live. With no Cosmos endpoint, `store_url` names an embedded store."""

    store_url: str = DEFAULT_STORE_URL
    cosmos_endpoint: str | None = None
    cosmos_database: str = DEFAULT_DATABASE
    cosmos_container: str = DEFAULT_CONTAINER
    cosmos_key: str | None = field(default=None, repr=False)
    cosmos_create_if_missing: bool = False
    cosmos_verify_tls: bool = True
    outbox_path: str | None = DEFAULT_OUTBOX_PATH

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the variables `.env.example` documents from `environ`."""
        return cls(
            store_url=environ.get("CONVERSATION_STORE_URL") or DEFAULT_STORE_URL,
            cosmos_endpoint=environ.get("COSMOSDB_ENDPOINT") or None,
            cosmos_database=environ.get("COSMOSDB_DATABASE") or DEFAULT_DATABASE,
            cosmos_container=environ.get("COSMOSDB_AIConversations_CONTAINER") or DEFAULT_CONTAINER,
            cosmos_key=environ.get("COSMOSDB_KEY") or None,
            cosmos_create_if_missing=_flag(environ.get("COSMOSDB_CREATE_IF_MISSING")),
            cosmos_verify_tls=not _flag(environ.get("COSMOSDB_INSECURE_EMULATOR_TLS")),
            outbox_path=_outbox_path(environ.get("CONVERSATION_STORE_OUTBOX")),
        )

    @property
    def backend(self) -> str:
        """`cosmos`, `postgres`, `sqlite` or `memory`."""
        if self.cosmos_endpoint:
            return "cosmos"
        if self.store_url.startswith(POSTGRES_URL_PREFIXES):
            return "postgres"
        return "memory" if self.store_url.startswith("memory://") else "sqlite"


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative/path` or `sqlite:////absolute/path` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise InvalidInputError(f"store URL {url!r} is not sqlite:///path or memory://")
    return Path(url[len(prefix) :])


def open_store(settings: Settings) -> ConversationStore:
    """Open the store `settings` name. The caller owns it and must close it."""
    if settings.backend == "memory":
        return MemoryStore()
    if settings.backend == "sqlite":
        return SQLiteStore(sqlite_path(settings.store_url))
    if settings.backend == "postgres":
        # psycopg comes with the optional `postgres` extra, so it is imported only here.
        from conversation_store.stores.postgres.store import PostgresStore

        return PostgresStore.from_url(settings.store_url)
    endpoint, options = cosmos_arguments(settings)
    cosmos = CosmosStore.from_endpoint(endpoint, **options)
    if settings.outbox_path is None:
        return cosmos
    return OutboxStore(cosmos, OutboxQueue(settings.outbox_path))


def cosmos_arguments(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The endpoint and keyword arguments of `CosmosStore.from_endpoint` (sync and async)."""
    assert settings.cosmos_endpoint is not None
    return settings.cosmos_endpoint, {
        "credential": settings.cosmos_key,
        "database": settings.cosmos_database,
        "container": settings.cosmos_container,
        "create_if_missing": settings.cosmos_create_if_missing,
        "connection_verify": settings.cosmos_verify_tls,
    }


def _outbox_path(value: str | None) -> str | None:
    if value is not None and value.strip().lower() in {"off", "none", "false", "0"}:
        return None
    return value or DEFAULT_OUTBOX_PATH


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}
