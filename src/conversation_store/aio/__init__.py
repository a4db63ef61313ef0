"""Async twins of the public classes, under the same names (as `azure.cosmos.aio` does).

Use from Azure Functions and other asyncio code; models and errors are shared with the sync
package and never duplicated here.
"""

from .cosmos import CosmosStore
from .embedded import MemoryStore, SQLiteStore
from .manager import ConversationManager
from .protocol import ConversationStore
from .settings import open_store

__all__ = [
    "ConversationManager",
    "ConversationStore",
    "CosmosStore",
    "MemoryStore",
    "SQLiteStore",
    "open_store",
]
