"""The one boundary every input crosses before anything is written: the manager's arguments,
saved and appended messages, imports and migrations all pass these checks.

Pure: each check returns the value as it may be stored, or raises InvalidInputError.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, JsonValue, TypeAdapter, ValidationError

from conversation_store.exceptions import (
    ConversationNotFoundError,
    InvalidInputError,
    UnsupportedOperationError,
)
from conversation_store.ids import new_conversation_id, new_message_id, validate_id
from conversation_store.models import (
    MESSAGE_KINDS,
    PART_TYPES,
    ROLES,
    SCHEMA_VERSION,
    AudioPart,
    Content,
    ContentPart,
    Conversation,
    ConversationKey,
    FilePart,
    ImagePart,
    ListFilter,
    Message,
    MetadataScalar,
    ToolCall,
    utc_now,
)
from conversation_store.retention import MAX_TTL_SECONDS
from conversation_store.search import search_terms
from conversation_store.tokens import count_message_tokens

# The per-message limit (the manager's `max_content_bytes`): the content's bytes (UTF-8 text,
# or the parts as compact JSON), and separately `raw`'s. 4 MiB holds a 1.5 MB base64 image
# and a lossless copy of it in `raw`. Cosmos DB has its own, lower bound
# (`stores.cosmos.items.MAX_MESSAGE_BYTES`), checked before it writes.
DEFAULT_MAX_CONTENT_BYTES = 4 * 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # nesting levels of any JSON value we store (metadata, tool-call extras)
MAX_SAFE_INTEGER = 2**53 - 1  # the integers Cosmos DB (a JSON double) keeps exactly
MAX_TOKENS = 2**31 - 1  # tokens of one message
MIN_YEAR, MAX_YEAR = 1000, 9999  # timestamps are written with exactly four year digits
# An import document nests its metadata at most this much deeper: document, messages list,
# message, metadata.
_DOCUMENT_DEPTH = MAX_JSON_DEPTH + 4
MAX_TITLE_CHARS = 200
MAX_EXTERNAL_ID_CHARS = 255
MAX_FILTER_CHARS = 1_000  # a listing filter's text (session_id, persona, org_id, metadata)
MAX_SUMMARY_CHARS = 2_000
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 10
MAX_WINDOW_LIMIT = 10_000_000
MAX_DAYS = 36_500  # a cut-off a century back; beyond it datetime arithmetic overflows
MAX_IMPORT_BYTES = 256 * 1024 * 1024

ToolCallInput = ToolCall | Mapping[str, Any]
_PARTS = TypeAdapter(list[ContentPart])
# Roles whose content may be empty ("" or no parts): tool results (OpenAI's shape).
_EMPTY_CONTENT_ROLES = ("tool", "function")
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
    external_id: object = None,
) -> Conversation:
    """A new conversation with no messages, built from checked arguments."""
    with invalid_input():
        return Conversation(
            schema_version=SCHEMA_VERSION,
            id=new_conversation_id()
            if conversation_id is None
            else validate_id(conversation_id, "conversation id"),
            customer_id=validate_id(customer_id, "customer id"),
            session_id=validate_optional_text(session_id, "session_id"),
            title=validate_title(title),
            persona=validate_optional_text(persona, "persona"),
            org_id=validate_optional_text(org_id, "org_id"),
            metadata=validate_metadata(metadata),
            external_id=validate_optional_external_id(external_id),
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
    kind: object = "message",
    raw: object = None,
) -> Message:
    """A new message stamped now, built from checked arguments; tokens counted unless given."""
    checked_role = validate_role(role)
    checked_kind = validate_kind(kind)
    calls = validate_tool_calls(tool_calls)
    with invalid_input():
        checked_content = validate_content(
            content,
            role=checked_role,
            has_tool_calls=bool(calls),
            max_bytes=max_content_bytes,
            kind=checked_kind,
        )
        counted = validate_tokens(tokens)
        return Message(
            id=new_message_id() if message_id is None else validate_id(message_id, "message id"),
            role=checked_role,  # type: ignore[arg-type]
            kind=checked_kind,  # type: ignore[arg-type]
            content=checked_content,
            timestamp=utc_now(),
            tokens=count_message_tokens(checked_content, calls) if counted is None else counted,
            metadata=validate_metadata(metadata),
            tool_calls=calls,
            tool_call_id=validate_optional_text(tool_call_id, "tool_call_id"),
            name=validate_optional_text(name, "name"),
            raw=validate_raw(raw, max_bytes=max_content_bytes),
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
        validate_message(message, max_content_bytes=max_content_bytes)
    ids = [m.id for m in messages]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("messages repeat a message id")
    return list(messages)


def validate_message(message: Message, *, max_content_bytes: int) -> Message:
    """A built message (appended, saved, imported or copied) within the limits a new message
    has: its id (None only in seed documents), kind, content, timestamp, tokens, metadata,
    tool calls, names, raw and any extra fields the document carried."""
    if message.id is not None:
        validate_id(message.id, "message id")
    validate_kind(message.kind)
    validate_content(
        message.content,
        role=message.role,
        has_tool_calls=bool(message.tool_calls),
        max_bytes=max_content_bytes,
        kind=message.kind,
    )
    validate_timestamp(message.timestamp, "timestamp")
    validate_tokens(message.tokens)
    validate_metadata(message.metadata)
    validate_tool_calls(message.tool_calls)
    validate_optional_text(message.tool_call_id, "tool_call_id")
    validate_optional_text(message.name, "name")
    validate_raw(message.raw, max_bytes=max_content_bytes)
    validate_extra_fields(message.model_extra, "message")
    return message


def validate_conversation(conversation: Conversation, *, max_content_bytes: int) -> Conversation:
    """A whole conversation (saved new, imported, copied between stores or customers): its
    header as `validate_header` checks it, and every message as `validate_message` does."""
    validate_header(conversation)
    for message in conversation.messages:
        validate_message(message, max_content_bytes=max_content_bytes)
    return conversation


def validate_header(conversation: Conversation) -> Conversation:
    """A conversation's fields other than its messages, within the limits of the calls that
    set them: ids, texts, metadata, timestamps, counters, ttl and extra fields."""
    conversation_key(conversation.id, conversation.customer_id)
    for name in ("session_id", "persona", "org_id", "share_id"):
        validate_optional_text(getattr(conversation, name), name)
    if conversation.title is not None:
        validate_title(conversation.title)
    if conversation.summary is not None:
        validate_summary(conversation.summary)
    validate_metadata(conversation.metadata)
    validate_timestamp(conversation.created_at, "created_at")
    validate_timestamp(conversation.updated_at, "updated_at")
    if conversation.header_updated_at is not None:
        validate_timestamp(conversation.header_updated_at, "header_updated_at")
    validate_optional_external_id(conversation.external_id)
    validate_pinned(conversation.pinned)
    validate_counter(conversation.schema_version, "schema_version")
    validate_counter(conversation.message_count, "message_count")
    validate_counter(conversation.total_tokens, "total_tokens")
    validate_ttl(conversation.ttl)
    validate_extra_fields(conversation.model_extra, "conversation")
    return conversation


def validate_text(value: object, what: str) -> str:
    """A string of valid Unicode scalar values (no lone surrogate), so every store can encode
    it as UTF-8."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not valid Unicode text") from exc
    return value


def validate_optional_text(value: object, what: str) -> str | None:
    return None if value is None else validate_text(value, what)


def validate_tool_calls(tool_calls: object) -> list[ToolCall] | None:
    """None, or a list of tool calls in OpenAI's shape: `{"id": str, "type": str, "function":
    {"name": str, "arguments": str}}`; extra fields must be JSON."""
    if tool_calls is None:
        return None
    if isinstance(tool_calls, str | bytes | Mapping) or not isinstance(tool_calls, Sequence):
        raise InvalidInputError(
            f"tool_calls must be a list of tool calls, not {type(tool_calls).__name__}"
        )
    checked = [_tool_call(call) for call in tool_calls]
    return checked or None


def _tool_call(call: object) -> ToolCall:
    if not isinstance(call, ToolCall | Mapping):
        raise InvalidInputError(f"tool_calls items must be objects, not {type(call).__name__}")
    try:
        parsed = ToolCall.model_validate(call, strict=True) if isinstance(call, Mapping) else call
    except ValidationError as exc:
        raise InvalidInputError(f"tool_calls item is malformed: {exc}") from exc
    _check_json(parsed.model_dump(), what="tool_calls", depth=0, seen=set())
    return parsed


def validate_extra_fields(extra: Mapping[str, Any] | None, what: str) -> None:
    """Fields a document carries beyond the model's (kept on save): JSON within our limits."""
    if extra:
        _check_json(dict(extra), what=f"{what} fields", depth=0, seen=set())


def validate_timestamp(value: datetime, what: str) -> datetime:
    """A UTC instant whose year has four digits (MIN_YEAR..MAX_YEAR), as stored strings need."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInputError(f"{what} must be in the years {MIN_YEAR}..{MAX_YEAR}")
    return value


def validate_counter(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise InvalidInputError(f"{what} must be an integer in 0..{MAX_SAFE_INTEGER}")
    return value


def validate_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return str(role)


def validate_kind(kind: object) -> str:
    if kind not in MESSAGE_KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(MESSAGE_KINDS)}; got {kind!r}")
    return str(kind)


def validate_content(
    content: object, *, role: str, has_tool_calls: bool, max_bytes: int, kind: str = "message"
) -> Content | None:
    """Text or a list of typed parts (`validate_parts`) within `max_bytes`: the text's UTF-8
    bytes, or the parts' as compact JSON.

    Content may be empty ("" or no parts) or absent where the model APIs allow it: an
    assistant message with tool calls, and a reasoning or event item; a tool (or function)
    result may be empty but not absent. Other messages need non-blank text or some part.
    """
    if isinstance(content, str):
        validate_text(content, "content")
        checked: Content | None = content
        size = len(content.encode("utf-8"))
    elif content is None:
        checked, size = None, 0
    else:
        checked = validate_parts(content)
        size = json_bytes([part.model_dump(mode="json") for part in checked])
    if _is_empty(checked):
        _check_may_be_empty(checked, role=role, has_tool_calls=has_tool_calls, kind=kind)
    if size > max_bytes:
        raise InvalidInputError(f"content is {size} bytes; the limit is {max_bytes}")
    return checked


def _is_empty(content: Content | None) -> bool:
    return not content or (isinstance(content, str) and not content.strip())


def _check_may_be_empty(
    content: Content | None, *, role: str, has_tool_calls: bool, kind: str
) -> None:
    if kind != "message" or (role == "assistant" and has_tool_calls):
        return
    if role in _EMPTY_CONTENT_ROLES and content is not None:
        return
    if content is None:
        raise InvalidInputError(f"content is required in a message of role {role}")
    raise InvalidInputError("content must not be empty or blank")


def validate_parts(parts: object) -> list[ContentPart]:
    """A list of content parts in OpenAI's Chat shape, as models or JSON objects: `text`,
    `image_url` (an http(s) URL or a base64 `data:` URL), `input_audio` (base64 `data` and a
    `format`), `file` (`file_id` or `file_data`, optional `filename`) and `refusal`. Extra
    fields are kept and must be JSON within our limits; any other part type is refused."""
    if isinstance(parts, str | bytes | Mapping) or not isinstance(parts, Sequence):
        raise InvalidInputError(
            f"content must be a string or a list of parts, not {type(parts).__name__}"
        )
    data = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    _check_json(data, what="content parts", depth=0, seen=set())
    for item in data:
        if not isinstance(item, Mapping) or item.get("type") not in PART_TYPES:
            found = item.get("type") if isinstance(item, Mapping) else type(item).__name__
            raise InvalidInputError(
                f"content part type must be one of {', '.join(PART_TYPES)}; got {found!r}"
            )
    try:
        checked = _PARTS.validate_python(data, strict=True)
    except ValidationError as exc:
        raise InvalidInputError(f"content part is malformed: {exc}") from exc
    for part in checked:
        _check_part_payload(part)
    return checked


def _check_part_payload(part: ContentPart) -> None:
    """What pydantic's types cannot say: URLs and base64 data that a model could read."""
    if isinstance(part, ImagePart):
        url = part.image_url.url
        if url.startswith("data:"):
            header, _, data = url.partition(",")
            if not header.endswith(";base64"):
                raise InvalidInputError("an inline image must be a base64 data: URL")
            _check_base64(data, "image data")
        elif not url.startswith(("https://", "http://")):
            raise InvalidInputError("an image URL must be http(s) or a base64 data: URL")
    elif isinstance(part, AudioPart):
        _check_base64(part.input_audio.data, "audio data")
        if not part.input_audio.format.strip():
            raise InvalidInputError("audio format must not be blank")
    elif isinstance(part, FilePart) and not (part.file.file_id or part.file.file_data):
        raise InvalidInputError("a file part needs file_id or file_data")


def _check_base64(data: str, what: str) -> None:
    try:
        binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise InvalidInputError(f"{what} is not valid base64") from exc
    if not data:
        raise InvalidInputError(f"{what} is empty")


def validate_raw(raw: object, *, max_bytes: int) -> JsonValue:
    """None, or a framework's own JSON of the item: JSON within our limits (depth, Unicode,
    integers, no NaN) and at most `max_bytes` as compact JSON. Not counted as metadata."""
    if raw is None:
        return None
    _check_json(raw, what="raw", depth=0, seen=set())
    size = json_bytes(raw)
    if size > max_bytes:
        raise InvalidInputError(f"raw is {size} bytes; the limit is {max_bytes}")
    return cast(JsonValue, raw)


def json_bytes(value: object) -> int:
    """Bytes of `value` as compact JSON in UTF-8 (how the stores write it)."""
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(encoded.encode("utf-8"))


def validate_message_bytes(document: Mapping[str, Any], *, limit: int, store: str) -> None:
    """A message's JSON document within a store's own bound of one message; raises
    InvalidInputError naming the store and its limit (checked before anything is written)."""
    size = json_bytes(document)
    if size > limit:
        raise InvalidInputError(
            f"message is {size} bytes as JSON; {store} stores at most {limit} bytes per message"
        )


def validate_tokens(tokens: object) -> int | None:
    if tokens is None:
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= MAX_TOKENS:
        raise InvalidInputError(f"tokens must be an integer in 0..{MAX_TOKENS}, not {tokens!r}")
    return tokens


def validate_title(title: object) -> str | None:
    if title is None:
        return None
    if not isinstance(title, str) or not validate_text(title, "title").strip():
        raise InvalidInputError("title must be a non-blank string or None")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInputError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return title.strip()


def validate_summary(summary: object) -> str | None:
    if summary is None:
        return None
    if not isinstance(summary, str) or not validate_text(summary, "summary").strip():
        raise InvalidInputError("summary must be a non-blank string or None")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidInputError(f"summary is longer than {MAX_SUMMARY_CHARS} characters")
    return summary.strip()


def validate_archived_filter(archived: object) -> bool | None:
    if archived is not None and not isinstance(archived, bool):
        raise InvalidInputError("archived must be True, False or None")
    return archived


def validate_pinned(pinned: object) -> bool:
    if not isinstance(pinned, bool):
        raise InvalidInputError("pinned must be True or False")
    return pinned


def validate_external_id(external_id: object) -> str:
    """A caller's key of a conversation: any text of 1..MAX_EXTERNAL_ID_CHARS characters
    (`/`, `?`, `#`, spaces, any script), without NUL or lone surrogates; kept exactly."""
    text = validate_text(external_id, "external_id")
    if not 1 <= len(text) <= MAX_EXTERNAL_ID_CHARS:
        raise InvalidInputError(f"external_id must have 1 to {MAX_EXTERNAL_ID_CHARS} characters")
    if "\x00" in text:
        raise InvalidInputError("external_id must not contain NUL")
    return text


def validate_optional_external_id(external_id: object) -> str | None:
    return None if external_id is None else validate_external_id(external_id)


def external_id_not_found(customer_id: str, external_id: str) -> ConversationNotFoundError:
    """The error of a lookup by an external id that the customer does not use."""
    error = ConversationNotFoundError("", customer_id)
    error.args = (f"no conversation with external id {external_id!r} for customer {customer_id!r}",)
    return error


def validate_list_filter(
    *,
    pinned: object,
    session_id: object,
    persona: object,
    org_id: object,
    metadata: object,
) -> ListFilter:
    """The filter of a listing, every value checked: pinned a bool or None; the texts None
    or at most MAX_FILTER_CHARS without NUL; metadata None or one `(key, JSON scalar)` pair."""
    if pinned is not None:
        validate_pinned(pinned)
    return ListFilter(
        pinned=cast(bool | None, pinned),
        session_id=_filter_text(session_id, "session_id"),
        persona=_filter_text(persona, "persona"),
        org_id=_filter_text(org_id, "org_id"),
        metadata=_metadata_filter(metadata),
    )


def _filter_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    text = validate_text(value, what)
    if len(text) > MAX_FILTER_CHARS or "\x00" in text:
        raise InvalidInputError(
            f"{what} filter must be text of at most {MAX_FILTER_CHARS} characters without NUL"
        )
    return text


def _metadata_filter(pair: object) -> tuple[str, MetadataScalar] | None:
    """None, or a `(key, value)` pair whose value is a JSON scalar: text, a finite number,
    an integer within MAX_SAFE_INTEGER, a bool or None. Containers are refused unread."""
    if pair is None:
        return None
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise InvalidInputError("metadata filter must be one (key, value) pair")
    key, value = pair
    key_text = _filter_text(key, "metadata key")
    if not key_text:
        raise InvalidInputError("metadata filter key must not be empty")
    if value is None or isinstance(value, bool):
        return key_text, value
    if isinstance(value, str):
        return key_text, _filter_text(value, "metadata value")
    if isinstance(value, int | float):
        _check_json(value, what="metadata filter value", depth=0, seen=set())
        return key_text, value
    raise InvalidInputError(
        f"metadata filter value must be text, a number, a bool or None, not {type(value).__name__}"
    )


def validate_metadata(metadata: object) -> dict[str, JsonValue]:
    """A JSON object of bounded size and depth (MAX_JSON_DEPTH), with string keys, valid
    Unicode, integers within MAX_SAFE_INTEGER and no cycles or NaN."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a mapping, not {type(metadata).__name__}")
    _check_json(metadata, what="metadata", depth=0, seen=set())
    encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    loaded: dict[str, JsonValue] = json.loads(encoded)
    return loaded


def _check_json(value: Any, *, what: str, depth: int, seen: set[int]) -> None:
    """Recursion is bounded by MAX_JSON_DEPTH, so a deep value is refused, never overflows."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        validate_text(value, what)
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise InvalidInputError(f"{what} integers must be within ±{MAX_SAFE_INTEGER}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{what} numbers must be finite")
    elif isinstance(value, Mapping | list | tuple):
        _check_container(value, what=what, depth=depth, seen=seen)
    else:
        raise InvalidInputError(f"{what} value of type {type(value).__name__} is not JSON")


def _check_container(value: Any, *, what: str, depth: int, seen: set[int]) -> None:
    if id(value) in seen:
        raise InvalidInputError(f"{what} contains a cycle")
    seen.add(id(value))
    items = value.items() if isinstance(value, Mapping) else enumerate(value)
    for key, item in items:
        if isinstance(value, Mapping) and not isinstance(key, str):
            raise InvalidInputError(f"{what} keys must be strings, not {key!r}")
        if isinstance(key, str):
            validate_text(key, f"{what} key")
        _check_json(item, what=what, depth=depth + 1, seen=seen)
    seen.discard(id(value))


def check_json_depth(value: object, *, limit: int, what: str) -> None:
    """Refuse `value` nested deeper than `limit`, without recursion (a deep or cyclic input
    of any size is an InvalidInputError, never a RecursionError)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InvalidInputError(f"{what} is nested deeper than {limit} levels")
        if isinstance(item, Mapping):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


def validate_metadata_keys(keys: object) -> tuple[str, ...]:
    """Metadata keys to remove: a sequence of strings (a lone string is refused, not split)."""
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise InvalidInputError(f"keys must be a sequence of strings, not {type(keys).__name__}")
    for key in keys:
        if not isinstance(key, str):
            raise InvalidInputError(f"metadata keys must be strings, not {key!r}")
        validate_text(key, "metadata key")
    return tuple(keys)


def validate_etag(etag: object) -> str | None:
    """None (write unconditionally) or a version tag as a load returned it."""
    if etag is not None and (not isinstance(etag, str) or not validate_text(etag, "etag")):
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
    if not isinstance(token, str) or not token or len(token) > 16_384 or not token.isascii():
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
    query = validate_text(query, "search query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"search query is longer than {MAX_QUERY_CHARS} characters")
    terms = search_terms(query)
    if not terms:
        raise InvalidInputError("search query needs at least one letter or digit")
    if len(terms) > MAX_QUERY_TERMS:
        raise InvalidInputError(f"search query has more than {MAX_QUERY_TERMS} terms")
    return query


def validate_ttl(ttl: object, what: str = "ttl") -> int | None:
    """Seconds to keep a conversation after its last write (or a share link after it is
    made), or None for no expiry."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InvalidInputError(f"{what} must be None or whole seconds in 1..{MAX_TTL_SECONDS}")
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


def validate_document(document: object, number: int, *, max_content_bytes: int) -> Conversation:
    """Import document #`number` as a conversation within the limits of the calls that write
    one (`validate_conversation`), whose counters count the messages it holds.

    Raises InvalidInputError for a non-object, an invalid document or a repeated message id.
    """
    if not isinstance(document, dict):
        raise InvalidInputError(f"import document #{number} is not a JSON object")
    try:
        check_json_depth(document, limit=_DOCUMENT_DEPTH, what=f"import document #{number}")
        conversation = validate_conversation(
            Conversation.model_validate(document), max_content_bytes=max_content_bytes
        )
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


MAX_POP_COUNT = 1_000  # messages one pop_messages call removes at most


def validate_pop_count(n: object) -> int:
    """How many messages a pop removes: an integer from 1 to MAX_POP_COUNT (not a bool)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POP_COUNT:
        raise InvalidInputError(f"n must be an integer from 1 to {MAX_POP_COUNT}, not {n!r}")
    return n


def validate_page(last: object, before: object) -> tuple[int | None, str | None]:
    """A raw page of messages: `last` None or a count up to MAX_WINDOW_LIMIT, `before`
    None or a message id."""
    if last is not None:
        validate_limit(last, maximum=MAX_WINDOW_LIMIT)
    checked_before = None if before is None else validate_id(before, "message id")
    return cast("int | None", last), checked_before


def validate_replacement(messages: object, *, max_content_bytes: int) -> list[Message]:
    """The messages that replace all of a conversation's: as `validate_messages`, but none
    at all is allowed (the conversation is then emptied)."""
    if isinstance(messages, Sequence) and not isinstance(messages, str | bytes) and not messages:
        return []
    return validate_messages(messages, max_content_bytes=max_content_bytes)
