"""conversation-store: durable history for LLM chat conversations.

Conversations live in Azure Cosmos DB for NoSQL or, with no Cosmos settings, in an embedded
SQLite file. Start with `ConversationManager.from_settings(Settings.from_env(os.environ))`.
"""

from .exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    StoreClosedError,
    StoreUnavailableError,
)
from .manager import ConversationManager
from .models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    FunctionCall,
    Message,
    Page,
    ToolCall,
)
from .settings import Settings, open_store
from .stores.memory import MemoryStore
from .stores.protocol import ConversationStore, HeaderUpdate
from .stores.sqlite import SQLiteStore

__all__ = [
    "AccessDeniedError",
    "AppendResult",
    "ConflictError",
    "Conversation",
    "ConversationManager",
    "ConversationNotFoundError",
    "ConversationStore",
    "ConversationStoreError",
    "ConversationSummary",
    "FunctionCall",
    "HeaderUpdate",
    "InvalidInputError",
    "MemoryStore",
    "Message",
    "Page",
    "SQLiteStore",
    "Settings",
    "StoreClosedError",
    "StoreUnavailableError",
    "ToolCall",
    "open_store",
]
