"""HTTP edge of the Function app: request parsing and error -> HTTP status mapping.

Kept apart from `function_app.py` so the handlers stay a few lines each and this module can
be tested without a Functions host. Every parse failure is an `InvalidInputError` (HTTP 400),
the same type the library raises for bad arguments, so one mapping covers both.

Status codes::

    InvalidInputError           400  malformed JSON, unknown fields, bad ids or limits
    ConversationNotFoundError   404  no such conversation for this customer
    ConflictError               409  a concurrent writer won; reload and retry
    StoreUnavailableError       503  Cosmos DB stayed unavailable after retries (Retry-After)
    StoreClosedError            503  the worker is shutting down (Retry-After)
    AccessDeniedError           500  the app's identity lacks its Cosmos DB data-plane role
    ConversationStoreError      500  anything else the store reported
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from pydantic import BaseModel

from conversation_store import (
    AccessDeniedError,
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    StoreClosedError,
    StoreUnavailableError,
)

logger = logging.getLogger(__name__)

CUSTOMER_HEADER = "x-customer-id"
CUSTOMER_FIELD = "customer_id"
RETRY_AFTER_SECONDS = 5  # StoreUnavailableError carries no server hint; this is our own
DEFAULT_LIST_LIMIT = 20
MAX_WINDOW = 1000

MESSAGE_FIELDS = frozenset(
    {"role", "content", "tokens", "metadata", "tool_calls", "tool_call_id", "name", "message_id"}
)
# A new conversation's messages get their ids from the library (the create itself is idempotent).
INITIAL_MESSAGE_FIELDS = MESSAGE_FIELDS - {"message_id"}
CONVERSATION_FIELDS = frozenset(
    {"session_id", "title", "persona", "org_id", "metadata", "conversation_id", "messages"}
)

Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


@dataclass(frozen=True)
class ErrorStatus:
    status: int
    code: str
    retry_after: int | None = None


# Most specific first: StoreClosedError is also a RuntimeError, AccessDeniedError a PermissionError.
_ERROR_STATUSES: tuple[tuple[type[ConversationStoreError], ErrorStatus], ...] = (
    (InvalidInputError, ErrorStatus(400, "invalid_input")),
    (ConversationNotFoundError, ErrorStatus(404, "not_found")),
    (ConflictError, ErrorStatus(409, "conflict")),
    (StoreUnavailableError, ErrorStatus(503, "store_unavailable", RETRY_AFTER_SECONDS)),
    (StoreClosedError, ErrorStatus(503, "store_closed", RETRY_AFTER_SECONDS)),
    (AccessDeniedError, ErrorStatus(500, "store_access_denied")),
)
_INTERNAL = ErrorStatus(500, "store_error")


@dataclass(frozen=True)
class MessageInput:
    """One message of a request body, as `ConversationManager.append_message` takes it."""

    role: str
    content: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewConversation:
    """The body of `POST /conversations`."""

    customer_id: str
    session_id: str | None
    options: dict[str, Any]
    messages: list[MessageInput]


# -- responses ---------------------------------------------------------------------------------


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    """`body` (JSON-ready data or a pydantic model) as an application/json response."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return func.HttpResponse(
        json.dumps(data, ensure_ascii=False),
        status_code=status,
        headers=dict(headers or {}),
        mimetype="application/json",
        charset="utf-8",
    )


def status_of(exc: ConversationStoreError) -> ErrorStatus:
    for error_type, status in _ERROR_STATUSES:
        if isinstance(exc, error_type):
            return status
    return _INTERNAL


def error_response(exc: ConversationStoreError) -> func.HttpResponse:
    """The HTTP answer to a library error; 5xx bodies do not echo internal details."""
    status = status_of(exc)
    if status.status >= 500:
        logger.error("conversation store failed: %s", exc, exc_info=exc)
        message = (
            "the conversation store is unavailable; retry later"
            if status.retry_after
            else "the conversation store failed; see the Function app's logs"
        )
    else:
        logger.info("request refused (%s): %s", status.status, exc)
        message = str(exc)
    headers = {"Retry-After": str(status.retry_after)} if status.retry_after else {}
    return json_response({"error": {"code": status.code, "message": message}}, status.status,
                         headers)


def mapped_errors(handler: Handler) -> Handler:
    """Wrap a handler so every library error becomes its HTTP answer."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return await handler(req)
        except ConversationStoreError as exc:
            return error_response(exc)

    return wrapper


# -- requests ----------------------------------------------------------------------------------


def json_body(req: func.HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object. Raises InvalidInputError."""
    raw = req.get_body()
    if not raw:
        raise InvalidInputError("the request body must be a JSON object")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInputError("the request body must be a JSON object")
    return body


def route_value(req: func.HttpRequest, name: str) -> str:
    """A route parameter the route template guarantees. Raises InvalidInputError if empty."""
    value: object = req.route_params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} is missing from the URL")
    return value


def customer_id_of(req: func.HttpRequest, body: Mapping[str, Any] | None = None) -> str:
    """The customer a request acts for: route, `x-customer-id` header, query or body field.

    All that are given must agree. Raises InvalidInputError when none is given or they differ.
    The library validates the id's shape itself.
    """
    candidates = [
        req.route_params.get(CUSTOMER_FIELD),
        req.headers.get(CUSTOMER_HEADER),
        req.params.get(CUSTOMER_FIELD),
        body.get(CUSTOMER_FIELD) if body is not None else None,
    ]
    given = {c for c in candidates if c is not None and c != ""}
    if not given:
        raise InvalidInputError(
            f"name the customer in the {CUSTOMER_HEADER} header or the customer_id parameter"
        )
    if len(given) > 1:
        raise InvalidInputError("the request names more than one customer id")
    value = given.pop()
    if not isinstance(value, str):
        raise InvalidInputError("customer_id must be a string")
    return value


def int_param(
    req: func.HttpRequest, name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    """An optional integer query parameter within [minimum, maximum]. Raises InvalidInputError."""
    raw = req.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be an integer, not {raw!r}") from exc
    if not minimum <= value <= maximum:
        raise InvalidInputError(f"{name} must be from {minimum} to {maximum}, not {value}")
    return value


def message_input(
    body: Mapping[str, Any], allowed: frozenset[str] = MESSAGE_FIELDS | {CUSTOMER_FIELD}
) -> MessageInput:
    """A message from a JSON object with only `allowed` fields. Raises InvalidInputError."""
    _reject_unknown(body, allowed, "message")
    if "role" not in body:
        raise InvalidInputError("a message needs a role")
    options = {k: v for k, v in body.items() if k in MESSAGE_FIELDS - {"role", "content"}}
    return MessageInput(role=body["role"], content=body.get("content"), options=options)


def new_conversation(req: func.HttpRequest) -> NewConversation:
    """The body of `POST /conversations`. Raises InvalidInputError."""
    body = json_body(req)
    _reject_unknown(body, CONVERSATION_FIELDS | {CUSTOMER_FIELD}, "conversation")
    messages = body.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InvalidInputError("messages must be a list of JSON objects")
    options = {
        k: v for k, v in body.items() if k in CONVERSATION_FIELDS - {"session_id", "messages"}
    }
    return NewConversation(
        customer_id=customer_id_of(req, body),
        session_id=_optional_string(body, "session_id"),
        options=options,
        messages=[message_input(m, INITIAL_MESSAGE_FIELDS) for m in messages],
    )


def _optional_string(body: Mapping[str, Any], name: str) -> str | None:
    value: object = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidInputError(f"{name} must be a string")


def _reject_unknown(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInputError(f"unknown {what} field(s): {', '.join(unknown)}")
