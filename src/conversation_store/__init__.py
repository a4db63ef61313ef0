"""conversation-store: durable history for LLM chat conversations.

Conversations live in Azure Cosmos DB for NoSQL or, with no Cosmos settings, in an embedded
SQLite file. Start with `ConversationManager.from_settings(Settings.from_env(os.environ))`.

Everything the app, the CLI, the examples and the docs use is exported here, and the async
twins under the same names in `conversation_store.aio`; other modules are internal.
`PostgresStore` is imported on first use, so psycopg (the `postgres` extra) stays optional.
"""

import typing

from conversation_store.enrichment import Enricher
from conversation_store.exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    MessageNotFoundError,
    ShareLinkNotFoundError,
    StoreClosedError,
    StoreUnavailableError,
    UnsupportedOperationError,
)
from conversation_store.export import conversation_to_json, conversation_to_markdown
from conversation_store.history import as_chat_messages
from conversation_store.history import window as history_window
from conversation_store.ids import validate_id
from conversation_store.manager import ConversationManager
from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationKey,
    ConversationSummary,
    CustomerActivity,
    FunctionCall,
    HeaderUpdate,
    ImportReport,
    ListFilter,
    Message,
    Page,
    SearchHit,
    SharedConversation,
    ShareLink,
    Stats,
    ToolCall,
)
from conversation_store.operations import SupportsOrphanSweep, SupportsScans
from conversation_store.settings import Settings, open_store
from conversation_store.stores.cosmos.boundary import RequestCharge, RetryPolicy
from conversation_store.stores.cosmos.items import SizeLimits
from conversation_store.stores.cosmos.store import CosmosStore
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.outbox.store import OutboxStore
from conversation_store.stores.protocol import (
    ConversationStore,
    SupportsEditing,
    SupportsErasure,
    SupportsExternalIds,
    SupportsSearch,
    SupportsShareLinks,
)
from conversation_store.stores.sqlite.store import SQLiteStore
from conversation_store.tokens import tokenizer_name

if typing.TYPE_CHECKING:
    from conversation_store.stores.postgres.store import PostgresStore

__all__ = [
    "AccessDeniedError",
    "AppendResult",
    "ConflictError",
    "Conversation",
    "ConversationKey",
    "ConversationManager",
    "ConversationNotFoundError",
    "ConversationStore",
    "ConversationStoreError",
    "ConversationSummary",
    "CosmosStore",
    "CustomerActivity",
    "Enricher",
    "FunctionCall",
    "HeaderUpdate",
    "ImportReport",
    "InvalidInputError",
    "ListFilter",
    "MemoryStore",
    "Message",
    "MessageNotFoundError",
    "OutboxStore",
    "Page",
    "PostgresStore",
    "RequestCharge",
    "RetryPolicy",
    "SQLiteStore",
    "SearchHit",
    "Settings",
    "ShareLink",
    "ShareLinkNotFoundError",
    "SharedConversation",
    "SizeLimits",
    "Stats",
    "StoreClosedError",
    "StoreUnavailableError",
    "SupportsEditing",
    "SupportsErasure",
    "SupportsExternalIds",
    "SupportsOrphanSweep",
    "SupportsScans",
    "SupportsSearch",
    "SupportsShareLinks",
    "ToolCall",
    "UnsupportedOperationError",
    "as_chat_messages",
    "conversation_to_json",
    "conversation_to_markdown",
    "history_window",
    "open_store",
    "tokenizer_name",
    "validate_id",
]


def __getattr__(name: str) -> typing.Any:
    """`PostgresStore`, imported lazily: psycopg is the optional `postgres` extra."""
    if name == "PostgresStore":
        from conversation_store.stores.postgres.store import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
