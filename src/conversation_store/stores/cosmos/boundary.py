"""The one boundary between the Cosmos stores (sync and aio) and the Azure SDK's failures.

Every request goes through it: transient faults are retried here (the single retry layer: the
SDK's own retries are turned off in `config`), the final SDK error becomes one of ours, and the
request-unit charge of each response is reported to the caller's hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.cosmos.exceptions import CosmosBatchOperationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from conversation_store.exceptions import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    StoreClosedError,
    StoreUnavailableError,
)
from conversation_store.models import ConversationKey

# 449 is "retry with": Cosmos asks for a retry of a write that raced another on one item.
TRANSIENT_STATUS = frozenset({408, 429, 449, 503})
# How azure-core's transports (requests and aiohttp) refuse a request once closed: a bare
# ValueError with this message, raised by the transport's open() at the start of send().
CLOSED_TRANSPORT = "HTTP transport has already been closed."
TRANSPORT_MODULES = "azure.core.pipeline.transport."
# What errors name as the conversation of a request that spans many (a listing, a search).
ANY = "*"


def spanning(customer_id: str | None) -> ConversationKey:
    """The key errors report for a request over many conversations of one customer, or all."""
    return ConversationKey(customer_id or ANY, ANY)


# -- errors ------------------------------------------------------------------------------------


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


def is_closed_transport(exc: BaseException) -> bool:
    """The SDK's HTTP transport refused the request because its owner had closed it (a
    container client or transport passed in and closed, or the store closed mid-call)."""
    if type(exc) is not ValueError or not str(exc).startswith(CLOSED_TRANSPORT):
        return False
    innermost = exc.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    module = innermost.tb_frame.f_globals.get("__name__") if innermost is not None else None
    return isinstance(module, str) and module.startswith(TRANSPORT_MODULES)


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


def translate(exc: BaseException, key: ConversationKey) -> ConversationStoreError:
    """Our error for a final SDK error (after retries). Never 'not found' for a fault."""
    if isinstance(exc, ClientAuthenticationError):
        return AccessDeniedError(f"Cosmos DB rejected the credential: {exc.message}")
    status = status_of(exc)
    where = f"conversation {key.conversation_id!r} of customer {key.customer_id!r}"
    if is_closed_transport(exc):
        return StoreClosedError(
            "the HTTP transport of the Cosmos DB client was closed before the request for "
            f"{where}: the store, or a container client or transport given to it, was closed"
        )
    if status == 404:
        return ConversationNotFoundError(key.conversation_id, key.customer_id)
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


# -- retries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts, exponential backoff with full jitter, and a server's retry-after honoured.

    The defaults give up after 6 attempts or 20 s, whichever comes first. The time limit is a
    hard one: every wait (backoff or retry-after) is cut to the time left, and once none is
    left no attempt starts, so a call returns within `max_total_seconds` plus the duration of
    the attempt that started at the deadline.
    """

    attempts: int = 6
    initial_backoff: float = 0.1
    max_backoff: float = 4.0
    max_total_seconds: float = 20.0

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc) if exc is not None else None
        wanted = min(asked, self.max_backoff * 4) if asked is not None else backoff(state)
        return min(wanted, self._time_left(state))

    def _time_left(self, state: RetryCallState) -> float:
        """Seconds until the deadline (tenacity measures from the first attempt, monotonic)."""
        return max(0.0, self.max_total_seconds - (state.seconds_since_start or 0.0))

    def _options(self) -> dict[str, object]:
        return {
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.max_total_seconds),
            "wait": self._wait,
            "retry": retry_if_exception(is_transient),
            "reraise": True,
        }

    def retrying(self) -> Retrying:
        return Retrying(**self._options())  # type: ignore[arg-type]

    def async_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(**self._options())  # type: ignore[arg-type]


# -- charges -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestCharge:
    """One request sent by a store operation, and the request units Cosmos DB charged for it."""

    operation: str
    request_units: float


ChargeHook = Callable[[RequestCharge], None]
ResponseHook = Callable[[Mapping[str, str], Any], None]


def charge_reporter(hook: ChargeHook | None, operation: str) -> ResponseHook:
    """An SDK `response_hook` that passes each response's `x-ms-request-charge` to `hook`."""

    def report(headers: Mapping[str, str], _body: Any) -> None:
        if hook is not None:
            hook(RequestCharge(operation, float(headers.get("x-ms-request-charge") or 0.0)))

    return report
