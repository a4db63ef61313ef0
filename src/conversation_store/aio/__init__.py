"""Async twins of the public classes, under the same names (as `azure.cosmos.aio` does).

Use from Azure Functions and other asyncio code; models and errors are shared with the sync
package and never duplicated here.
"""

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

__all__ = [
    "ConversationManager",
    "ConversationStore",
    "CosmosStore",
    "MemoryStore",
    "SQLiteStore",
    "SupportsEditing",
    "SupportsErasure",
    "SupportsSearch",
    "SupportsShareLinks",
    "open_store",
]
