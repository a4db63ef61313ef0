"""The one boundary between the PostgreSQL stores (sync and aio) and psycopg's failures.

Each store operation runs as one unit (one statement, or one transaction) that is safe to run
again: appends skip message ids already stored, so a unit retried after its connection dropped
(even after a commit whose answer was lost) never duplicates a message. Transient faults are
retried here, the single retry layer; the final error becomes one of ours. A fault is never
"not found".
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import errors
from psycopg_pool import PoolTimeout
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from conversation_store.exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationStoreError,
    InvalidInputError,
    StoreUnavailableError,
)
from conversation_store.models import ConversationKey

_DENIED = (
    errors.InvalidPassword,
    errors.InvalidAuthorizationSpecification,
    errors.InsufficientPrivilege,
)


# What libpq says when the server refuses a login: a connection error carries no SQLSTATE.
_REFUSED_LOGIN = (
    "authentication failed",
    "no pg_hba.conf entry",
    "role \"",  # role "x" does not exist
    "permission denied for database",
)


def is_denied(exc: BaseException) -> bool:
    """The server refused the login or the operation: retrying cannot help."""
    if isinstance(exc, _DENIED):
        return True
    message = str(exc)
    return isinstance(exc, psycopg.OperationalError) and any(
        marker in message for marker in _REFUSED_LOGIN
    )


def is_transient(exc: BaseException) -> bool:
    """Worth running the unit again: a lost or refused connection, a server shutting down,
    a serialization failure or deadlock, a pool that had no connection in time."""
    if is_denied(exc):
        return False
    return isinstance(
        exc,
        psycopg.OperationalError
        | errors.SerializationFailure
        | errors.DeadlockDetected
        | PoolTimeout,
    )


def translate(exc: BaseException, key: ConversationKey) -> ConversationStoreError:
    """Our error for a final psycopg error (after retries)."""
    where = f"conversation {key.conversation_id!r} of customer {key.customer_id!r}"
    if is_denied(exc):
        return AccessDeniedError(f"PostgreSQL denied access to {where}: {_first_line(exc)}")
    if isinstance(exc, errors.UniqueViolation):
        return ConflictError(f"{where} was changed by another writer")
    if isinstance(exc, psycopg.DataError | errors.ProgramLimitExceeded | ValueError):
        return InvalidInputError(f"PostgreSQL refused the data for {where}: {exc}")
    if is_transient(exc):
        return StoreUnavailableError(f"PostgreSQL is unavailable for {where}: {exc}")
    return ConversationStoreError(f"PostgreSQL failed for {where}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and full jitter: by default 8 attempts or
    30 s, enough to ride out a server restart."""

    attempts: int = 8
    initial_backoff: float = 0.05
    max_backoff: float = 4.0
    max_total_seconds: float = 30.0

    def _options(self) -> dict[str, object]:
        return {
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.max_total_seconds),
            "wait": wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff),
            "retry": retry_if_exception(is_transient),
            "reraise": True,
        }

    def retrying(self) -> Retrying:
        return Retrying(**self._options())  # type: ignore[arg-type]

    def async_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(**self._options())  # type: ignore[arg-type]


def _first_line(exc: BaseException) -> str:
    """The error's class and first line: libpq's login errors name the user, never a
    password."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
