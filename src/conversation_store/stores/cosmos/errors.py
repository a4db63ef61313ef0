"""The one place where Azure SDK errors become conversation-store errors (sync and aio)."""

from __future__ import annotations

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.cosmos.exceptions import CosmosBatchOperationError

from conversation_store.exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    StoreUnavailableError,
)

# 449 is "retry with": Cosmos asks for a retry of a write that raced another on one item.
TRANSIENT_STATUS = frozenset({408, 429, 449, 503})


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a failed batch is that of the operation that failed."""
    if isinstance(exc, CosmosBatchOperationError) and exc.operation_responses:
        index = exc.error_index or 0
        failed = exc.operation_responses[index]
        status = failed.get("statusCode") if isinstance(failed, dict) else None
        if isinstance(status, int) and status != 424:  # 424: failed because another op did
            return status
    if isinstance(exc, HttpResponseError):
        return exc.status_code
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: throttling, timeouts, unavailability, connections that failed."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, HttpResponseError) and status_of(exc) in TRANSIENT_STATUS


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a 429 (or 449/503) response asks for, from `x-ms-retry-after-ms`."""
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("x-ms-retry-after-ms")
    except AttributeError:
        return None
    try:
        return float(value) / 1000 if value is not None else None
    except (TypeError, ValueError):
        return None


def translate(
    exc: BaseException, *, conversation_id: str, customer_id: str
) -> ConversationStoreError:
    """Our error for a final SDK error (after retries). Never 'not found' for a fault."""
    if isinstance(exc, ClientAuthenticationError):
        return AccessDeniedError(f"Cosmos DB rejected the credential: {exc.message}")
    status = status_of(exc)
    where = f"conversation {conversation_id!r} of customer {customer_id!r}"
    if status == 404:
        return ConversationNotFoundError(conversation_id, customer_id)
    if status in (409, 412):
        return ConflictError(f"{where} was changed by another writer (HTTP {status})")
    if status in (400, 413):
        return InvalidInputError(f"Cosmos DB refused the request for {where} (HTTP {status})")
    if status in (401, 403):
        return AccessDeniedError(f"Cosmos DB denied access to {where} (HTTP {status})")
    if is_transient(exc) or (status is not None and status >= 500):
        return StoreUnavailableError(f"Cosmos DB is unavailable for {where}: {_reason(exc)}")
    return ConversationStoreError(f"Cosmos DB failed for {where}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    status = status_of(exc)
    return f"HTTP {status}" if status is not None else type(exc).__name__
