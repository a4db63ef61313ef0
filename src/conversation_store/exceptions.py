"""The one error tree of conversation-store.

Every backend translates its own errors into these at one boundary, so callers catch
the same types whatever store they use::

    ConversationStoreError
    ├── InvalidInputError            bad arguments; nothing was written
    ├── ConversationNotFoundError    no such conversation for this customer
    │   └── MessageNotFoundError     the conversation has no message with that id
    ├── ShareLinkNotFoundError       the share link is unknown, revoked or expired
    ├── ConflictError                a concurrent writer won (ETag / id clash)
    ├── AccessDeniedError            the store refused our identity (401/403)
    ├── StoreUnavailableError        transient faults outlasted the retries
    ├── UnsupportedOperationError    the store does not offer this capability
    └── StoreClosedError             the store or manager was used after close()
"""

from __future__ import annotations


class ConversationStoreError(Exception):
    """Base class of every error raised by conversation-store."""


class InvalidInputError(ConversationStoreError, ValueError):
    """An argument is malformed, unsafe or too large; the store is unchanged."""


class ConversationNotFoundError(ConversationStoreError, LookupError):
    """The conversation does not exist for this customer."""

    def __init__(self, conversation_id: str, customer_id: str) -> None:
        super().__init__(f"conversation {conversation_id!r} not found for customer {customer_id!r}")
        self.conversation_id = conversation_id
        self.customer_id = customer_id


class MessageNotFoundError(ConversationNotFoundError):
    """The conversation exists but holds no message with this id."""

    def __init__(self, conversation_id: str, customer_id: str, message_id: str) -> None:
        super().__init__(conversation_id, customer_id)
        self.args = (f"message {message_id!r} not found in conversation {conversation_id!r}",)
        self.message_id = message_id


class ConflictError(ConversationStoreError):
    """Another writer changed or created the item first; reload and retry."""


class AccessDeniedError(ConversationStoreError, PermissionError):
    """The backend rejected our credentials or permissions."""


class StoreUnavailableError(ConversationStoreError, ConnectionError):
    """The backend stayed unreachable, throttled or timed out after retries."""


class StoreClosedError(ConversationStoreError, RuntimeError):
    """The store or manager was used after close(), or a Cosmos store's container client or
    HTTP transport, given by the caller, was used after the caller closed it."""


class UnsupportedOperationError(ConversationStoreError, NotImplementedError):
    """The store does not declare the capability this call needs (e.g. search)."""


class ShareLinkNotFoundError(ConversationStoreError, LookupError):
    """The share link is unknown, was revoked, or has expired."""

    def __init__(self) -> None:
        super().__init__("this share link has expired or was revoked; ask for a new one")
