"""Async twins of the public classes, under the same names (as `azure.cosmos.aio` does).

Use from Azure Functions and other asyncio code; models and errors are shared with the sync
package and never duplicated here. `PostgresStore` is imported on first use, so psycopg (the
`postgres` extra) stays optional.
"""

import typing

from conversation_store.aio.cosmos import CosmosStore
from conversation_store.aio.embedded import MemoryStore, SQLiteStore
from conversation_store.aio.manager import ConversationManager
from conversation_store.aio.protocol import (
    ConversationStore,
    SupportsEditing,
    SupportsErasure,
    SupportsSearch,
    SupportsShareLinks,
)
from conversation_store.aio.settings import open_store

if typing.TYPE_CHECKING:
    from conversation_store.aio.postgres import PostgresStore

__all__ = [
    "ConversationManager",
    "ConversationStore",
    "CosmosStore",
    "MemoryStore",
    "PostgresStore",
    "SQLiteStore",
    "SupportsEditing",
    "SupportsErasure",
    "SupportsSearch",
    "SupportsShareLinks",
    "open_store",
]


def __getattr__(name: str) -> typing.Any:
    """`PostgresStore`, imported lazily: psycopg is the optional `postgres` extra."""
    if name == "PostgresStore":
        from conversation_store.aio.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
