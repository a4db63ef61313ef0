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
    MessageNotFoundError,
    StoreClosedError,
    StoreUnavailableError,
)
from .manager import ConversationManager
from .models import (
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
from .settings import Settings, open_store
from .stores.charges import RequestCharge
from .stores.cosmos import CosmosStore
from .stores.documents import SizeLimits
from .stores.memory import MemoryStore
from .stores.protocol import ConversationStore, HeaderUpdate
from .stores.retrying import RetryPolicy
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
