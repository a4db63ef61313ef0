"""The one boundary every input crosses before anything is written: the manager's arguments,
saved and appended messages, imports and migrations all pass these checks.

Pure: each check returns the value as it may be stored, or raises InvalidInputError.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, cast

from pydantic import JsonValue, ValidationError

from conversation_store.exceptions import InvalidInputError, UnsupportedOperationError
from conversation_store.ids import new_conversation_id, new_message_id, validate_id
from conversation_store.models import (
    ROLES,
    Conversation,
    ConversationKey,
    Message,
    ToolCall,
    utc_now,
)
from conversation_store.retention import MAX_TTL_SECONDS
from conversation_store.search import search_terms
from conversation_store.tokens import count_message_tokens

DEFAULT_MAX_CONTENT_BYTES = 100_000  # ~25k tokens; JSON escaping must still fit a segment
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 32
MAX_TITLE_CHARS = 200
MAX_SUMMARY_CHARS = 2_000
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 10
MAX_WINDOW_LIMIT = 10_000_000
MAX_DAYS = 36_500  # a cut-off a century back; beyond it datetime arithmetic overflows
MAX_IMPORT_BYTES = 256 * 1024 * 1024

ToolCallInput = ToolCall | Mapping[str, Any]
Capability = TypeVar("Capability")
ExportFormat = Literal["json", "markdown"]


@contextmanager
def invalid_input() -> Iterator[None]:
    """Report a pydantic validation failure as InvalidInputError."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidInputError(str(exc)) from exc


def require_capability(store: object, protocol: Callable[..., Capability], name: str) -> Capability:
    """`store` as `protocol` (a runtime-checkable capability); raises UnsupportedOperationError
    naming the capability when the store does not declare it."""
    # `protocol` is typed as a callable because mypy refuses a Protocol class for `type[...]`.
    if not (isinstance(protocol, type) and isinstance(store, protocol)):
        raise UnsupportedOperationError(f"{type(store).__name__} does not support {name}")
    return cast(Capability, store)


def conversation_key(conversation_id: object, customer_id: object) -> ConversationKey:
    """The key of one conversation, both ids checked."""
    return ConversationKey(
        validate_id(customer_id, "customer id"), validate_id(conversation_id, "conversation id")
    )


def optional_customer(customer_id: object) -> str | None:
    """None (every customer, for the operator calls) or a checked customer id."""
    return None if customer_id is None else validate_id(customer_id, "customer id")


def new_conversation(
    customer_id: object,
    session_id: str | None,
    *,
    title: object,
    persona: str | None,
    org_id: str | None,
    metadata: object,
    conversation_id: str | None,
) -> Conversation:
    """A new conversation with no messages, built from checked arguments."""
    with invalid_input():
        return Conversation(
            id=new_conversation_id()
            if conversation_id is None
            else validate_id(conversation_id, "conversation id"),
            customer_id=validate_id(customer_id, "customer id"),
            session_id=session_id,
            title=validate_title(title),
            persona=persona,
            org_id=org_id,
            metadata=validate_metadata(metadata),
        )


def new_message(
    role: object,
    content: object,
    *,
    max_content_bytes: int,
    tokens: object = None,
    metadata: Mapping[str, JsonValue] | None = None,
    tool_calls: Sequence[ToolCallInput] | None = None,
    tool_call_id: str | None = None,
    name: str | None = None,
    message_id: str | None = None,
) -> Message:
    """A new message stamped now, built from checked arguments; tokens counted unless given."""
    checked_role = validate_role(role)
    with invalid_input():
        calls = [ToolCall.model_validate(c) for c in tool_calls] if tool_calls else None
        checked_content = validate_content(
            content, role=checked_role, has_tool_calls=bool(calls), max_bytes=max_content_bytes
        )
        counted = validate_tokens(tokens)
        return Message(
            id=new_message_id() if message_id is None else validate_id(message_id, "message id"),
            role=checked_role,  # type: ignore[arg-type]
            content=checked_content,
            timestamp=utc_now(),
            tokens=count_message_tokens(checked_content, calls) if counted is None else counted,
            metadata=validate_metadata(metadata),
            tool_calls=calls,
            tool_call_id=tool_call_id,
            name=name,
        )


def validate_messages(messages: object, *, max_content_bytes: int) -> list[Message]:
    """Built messages, to be stored exactly as given: each one a Message with an id, content
    as a new message of its role may have, and JSON metadata; no id twice."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise InvalidInputError("messages must be a non-empty sequence of Message")
    for message in messages:
        if not isinstance(message, Message):
            raise InvalidInputError(f"messages must be Message, not {type(message).__name__}")
        validate_id(message.id, "message id")
        validate_content(
            message.content,
            role=message.role,
            has_tool_calls=bool(message.tool_calls),
            max_bytes=max_content_bytes,
        )
        validate_metadata(message.metadata)
    ids = [m.id for m in messages]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("messages repeat a message id")
    return list(messages)


def validate_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return str(role)


def validate_content(
    content: object, *, role: str, has_tool_calls: bool, max_bytes: int
) -> str | None:
    """Content must be non-blank text within `max_bytes` of UTF-8.

    Only an assistant message that carries tool calls may have no content (OpenAI's shape).
    """
    if content is None and role == "assistant" and has_tool_calls:
        return None
    if not isinstance(content, str):
        raise InvalidInputError(f"content must be a string, not {type(content).__name__}")
    if not content.strip():
        raise InvalidInputError("content must not be empty or blank")
    try:
        size = len(content.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError("content is not valid Unicode text") from exc
    if size > max_bytes:
        raise InvalidInputError(f"content is {size} bytes; the limit is {max_bytes}")
    return content


def validate_tokens(tokens: object) -> int | None:
    if tokens is None:
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise InvalidInputError(f"tokens must be a non-negative integer, not {tokens!r}")
    return tokens


def validate_title(title: object) -> str | None:
    if title is None:
        return None
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("title must be a non-blank string or None")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInputError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return title.strip()


def validate_summary(summary: object) -> str | None:
    if summary is None:
        return None
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidInputError("summary must be a non-blank string or None")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidInputError(f"summary is longer than {MAX_SUMMARY_CHARS} characters")
    return summary.strip()


def validate_archived_filter(archived: object) -> bool | None:
    if archived is not None and not isinstance(archived, bool):
        raise InvalidInputError("archived must be True, False or None")
    return archived


def validate_metadata(metadata: object) -> dict[str, JsonValue]:
    """A JSON object of bounded size and depth, with string keys and no cycles or NaN."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a mapping, not {type(metadata).__name__}")
    _check_json(metadata, depth=0, seen=set())
    encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    loaded: dict[str, JsonValue] = json.loads(encoded)
    return loaded


def _check_json(value: Any, *, depth: int, seen: set[int]) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError("metadata numbers must be finite")
        return
    if isinstance(value, Mapping | list | tuple):
        if id(value) in seen:
            raise InvalidInputError("metadata contains a cycle")
        seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(f"metadata keys must be strings, not {key!r}")
                _check_json(item, depth=depth + 1, seen=seen)
        else:
            for item in value:
                _check_json(item, depth=depth + 1, seen=seen)
        seen.discard(id(value))
        return
    raise InvalidInputError(f"metadata value of type {type(value).__name__} is not JSON")


def validate_metadata_keys(keys: object) -> tuple[str, ...]:
    """Metadata keys to remove: a sequence of strings (a lone string is refused, not split)."""
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise InvalidInputError(f"keys must be a sequence of strings, not {type(keys).__name__}")
    for key in keys:
        if not isinstance(key, str):
            raise InvalidInputError(f"metadata keys must be strings, not {key!r}")
    return tuple(keys)


def validate_etag(etag: object) -> str | None:
    """None (write unconditionally) or a version tag as a load returned it."""
    if etag is not None and (not isinstance(etag, str) or not etag):
        raise InvalidInputError("etag must be None or the etag of a loaded conversation")
    return etag


def validate_limit(limit: object, *, maximum: int = 100) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidInputError(f"limit must be an integer from 1 to {maximum}, not {limit!r}")
    return limit


def validate_continuation(token: object) -> str | None:
    """None (first page) or a non-empty token string as a listing returned it."""
    if token is None:
        return None
    if not isinstance(token, str) or not token or len(token) > 16_384:
        raise InvalidInputError("continuation must be None or a token returned by a listing")
    return token


def validate_window_limits(*limits: object) -> bool:
    """True if any history limit is set; raises InvalidInputError for one that is not a count."""
    for limit in limits:
        if limit is not None:
            validate_limit(limit, maximum=MAX_WINDOW_LIMIT)
    return any(limit is not None for limit in limits)


def validate_query(query: object) -> str:
    """A search query of at most MAX_QUERY_CHARS with 1 to MAX_QUERY_TERMS terms
    (`search.search_terms`)."""
    if not isinstance(query, str):
        raise InvalidInputError(f"search query must be a string, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"search query is longer than {MAX_QUERY_CHARS} characters")
    terms = search_terms(query)
    if not terms:
        raise InvalidInputError("search query needs at least one letter or digit")
    if len(terms) > MAX_QUERY_TERMS:
        raise InvalidInputError(f"search query has more than {MAX_QUERY_TERMS} terms")
    return query


def validate_ttl(ttl: object) -> int | None:
    """Seconds to keep a conversation after its last write, or None for no expiry."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InvalidInputError(f"ttl must be None or whole seconds in 1..{MAX_TTL_SECONDS}")
    return ttl


def validate_days(days: object) -> float:
    """An age in days for a cleanup cut-off, from 0 to MAX_DAYS."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be a number from 0 to {MAX_DAYS}")
    return days


def validate_archived(archived: object) -> bool:
    if not isinstance(archived, bool):
        raise InvalidInputError("archived must be True or False")
    return archived


def validate_export_format(format: object) -> ExportFormat:
    if format == "json" or format == "markdown":
        return format
    raise InvalidInputError(f"export format must be 'json' or 'markdown', not {format!r}")


def validate_import_size(data: str | bytes) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"import is larger than {MAX_IMPORT_BYTES} bytes")


def validate_document(document: object, number: int) -> Conversation:
    """Import document #`number` as a conversation whose counters count the messages it holds.

    Raises InvalidInputError for a non-object, an invalid document or a repeated message id.
    """
    if not isinstance(document, dict):
        raise InvalidInputError(f"import document #{number} is not a JSON object")
    try:
        conversation = Conversation.model_validate(document)
    except (ValidationError, InvalidInputError) as exc:
        raise InvalidInputError(f"import document #{number} is invalid: {exc}") from exc
    ids = [m.id for m in conversation.messages if m.id is not None]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"conversation {conversation.id!r} repeats a message id")
    conversation.message_count = len(conversation.messages)
    conversation.total_tokens = sum(m.tokens or 0 for m in conversation.messages)
    return conversation


def validate_import_owners(conversations: Sequence[Conversation], customer_id: object) -> None:
    """No conversation twice; with `customer_id`, none of any other customer."""
    keys = [(c.customer_id, c.id) for c in conversations]
    if len(set(keys)) != len(keys):
        raise InvalidInputError("import holds the same conversation twice")
    if customer_id is None:
        return
    expected = validate_id(customer_id, "customer id")
    for conversation in conversations:
        if conversation.customer_id != expected:
            raise InvalidInputError(
                f"conversation {conversation.id!r} belongs to customer "
                f"{conversation.customer_id!r}, not {expected!r}; import refused"
            )
