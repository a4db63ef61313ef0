"""conversation-store: durable history for LLM chat conversations.

Conversations live in Azure Cosmos DB for NoSQL or, with no Cosmos settings, in an embedded
SQLite file. Start with `ConversationManager.from_settings(Settings.from_env(os.environ))`.
"""

from conversation_store.exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    MessageNotFoundError,
    StoreClosedError,
    StoreUnavailableError,
)
from conversation_store.manager import ConversationManager
from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    CustomerActivity,
    FunctionCall,
    ImportReport,
    Message,
    Page,
    SearchHit,
    Stats,
    ToolCall,
)
from conversation_store.settings import Settings, open_store
from conversation_store.stores.cosmos.charges import RequestCharge
from conversation_store.stores.cosmos.items import SizeLimits
from conversation_store.stores.cosmos.retrying import RetryPolicy
from conversation_store.stores.cosmos.store import CosmosStore
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.protocol import ConversationStore, HeaderUpdate
from conversation_store.stores.sqlite.store import SQLiteStore

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
    "CosmosStore",
    "CustomerActivity",
    "FunctionCall",
    "HeaderUpdate",
    "ImportReport",
    "InvalidInputError",
    "MemoryStore",
    "Message",
    "MessageNotFoundError",
    "Page",
    "RequestCharge",
    "RetryPolicy",
    "SQLiteStore",
    "SearchHit",
    "Settings",
    "SizeLimits",
    "Stats",
    "StoreClosedError",
    "StoreUnavailableError",
    "ToolCall",
    "open_store",
]
