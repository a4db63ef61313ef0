"""Pydantic models of the document contract (DESIGN.md §2).

A document written in the seed schema (`id, customer_id, session_id, created_at, updated_at,
messages[role, content, timestamp]`) validates unchanged: every newer field has a default, and
unknown fields are kept (`extra="allow"`) so nothing a caller stored is dropped on a save.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    JsonValue,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from conversation_store.exceptions import InvalidInputError
from conversation_store.ids import validate_id

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool", "function")
MessageKind = Literal["message", "reasoning", "event"]
MESSAGE_KINDS: tuple[str, ...] = ("message", "reasoning", "event")
# Documents created from now on; v1 (and the seed schema, which has no version) still load.
SCHEMA_VERSION = 2
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and `Z`: one fixed width, so strings sort as instants.

    The year is written with four digits, as `isoformat` writes it (`strftime("%Y")` drops
    the padding below 1000); `validation.validate_timestamp` keeps stored years within
    1000..9999. In UTC, `isoformat` always ends in `+00:00`, replaced by `Z`.
    """
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _as_utc(value: datetime) -> datetime:
    # Seed documents may hold naive timestamps; they were written in UTC.
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # an offset that moves the instant out of datetime's range
        raise ValueError("timestamp is out of range") from exc


def _utc_datetime_schema(_source: object, _handler: GetCoreSchemaHandler) -> CoreSchema:
    """A datetime in UTC, validated inside pydantic-core for the text every store writes.

    Text with a zero offset (`...Z`, as `format_timestamp` writes) is parsed and kept as
    pydantic-core gives it (its `TzInfo(0)`, equal to `UTC`), with no Python call: a Python
    validator per value was a third of a load's decoding (`python -m bench.model_cost`).
    Anything else (a `datetime` object, naive or offset text, a number) is converted by
    `_as_utc`, as before.
    """
    utc_text = core_schema.chain_schema(
        [core_schema.str_schema(strict=True), core_schema.datetime_schema(tz_constraint=0)]
    )
    converted = core_schema.no_info_after_validator_function(
        _as_utc, core_schema.datetime_schema()
    )
    return core_schema.union_schema(
        [utc_text, converted],
        mode="left_to_right",
        custom_error_type="utc_datetime",
        custom_error_message="Input should be a datetime, or ISO 8601 text, within years 1-9999",
    )


UtcDatetime = Annotated[datetime, GetPydanticSchema(_utc_datetime_schema)]
"""A datetime normalized to UTC (naive input is read as UTC)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # Named, not "*": a serializer of every field is a Python call per field of every dump.
    @field_serializer(
        "timestamp",
        "created_at",
        "updated_at",
        "header_updated_at",
        when_used="always",
        check_fields=False,
    )
    def _serialize_datetimes(self, value: datetime | None) -> str | None:
        return None if value is None else format_timestamp(value)


class _Part(BaseModel):
    """A content part: unknown fields are kept, and optional fields left unset are not written,
    so a part reads back exactly as it was given."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _drop_unset_nones(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None or k in self.model_fields_set}


class TextPart(_Part):
    """`{"type": "text", "text": ...}`."""

    type: Literal["text"] = "text"
    text: str


class ImageURL(_Part):
    """An image by URL, or inline as a `data:image/png;base64,...` URL."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Part):
    """`{"type": "image_url", "image_url": {"url": ..., "detail": ...}}`."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class InputAudio(_Part):
    """Base64 audio and its format (`wav`, `mp3`, ...)."""

    data: str
    format: str


class AudioPart(_Part):
    """`{"type": "input_audio", "input_audio": {"data": ..., "format": ...}}`."""

    type: Literal["input_audio"] = "input_audio"
    input_audio: InputAudio


class FileData(_Part):
    """A file by the id of an upload, or inline as base64 `file_data`, with its name."""

    file_id: str | None = None
    file_data: str | None = None
    filename: str | None = None


class FilePart(_Part):
    """`{"type": "file", "file": {"file_id" | "file_data": ..., "filename": ...}}`."""

    type: Literal["file"] = "file"
    file: FileData


class RefusalPart(_Part):
    """`{"type": "refusal", "refusal": ...}`: the model declined to answer."""

    type: Literal["refusal"] = "refusal"
    refusal: str


ContentPart = Annotated[
    TextPart | ImagePart | AudioPart | FilePart | RefusalPart, Field(discriminator="type")
]
"""One typed part of a message's content, told apart by `type` (OpenAI's Chat shape)."""
PART_TYPES: tuple[str, ...] = ("text", "image_url", "input_audio", "file", "refusal")
Content = str | list[ContentPart]


class FunctionCall(BaseModel):
    """The function a tool call invokes, in OpenAI's shape (`arguments` is a JSON string)."""

    model_config = ConfigDict(extra="allow")
    name: str
    arguments: str = "{}"


class ToolCall(BaseModel):
    """One tool call requested by an assistant message."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str = "function"
    function: FunctionCall


class Message(_Model):
    """One item of a conversation: a chat message (`kind="message"`), or a reasoning or event
    item kept in order but left out of history windows and of what is sent to a model.

    `id` is None only for messages of seed documents written without ids. `content` is text,
    a list of typed parts, or None/empty where the model APIs allow it. `raw` keeps a
    framework's own JSON of the item, stored as given.
    """

    id: str | None = None
    role: Role
    kind: MessageKind = "message"
    content: Content | None = None
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    tokens: int | None = Field(default=None, ge=0)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    raw: JsonValue | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_optionals(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("id", "tokens", "tool_calls", "tool_call_id", "name", "raw"):
            if data.get(key) is None:
                data.pop(key, None)
        if data.get("kind") == "message":
            data.pop("kind")  # the default is not written, so a v1 message writes back unchanged
        return data

    @property
    def is_chat(self) -> bool:
        """True for a chat message; False for a reasoning or event item."""
        return self.kind == "message"

    @property
    def text(self) -> str:
        """The readable text: the content string, or its text and refusal parts joined by
        newlines ("" when there is none)."""
        if isinstance(self.content, str) or self.content is None:
            return self.content or ""
        texts = [part_text(p) for p in self.content if isinstance(p, TextPart | RefusalPart)]
        return "\n".join(texts)


def part_text(part: TextPart | RefusalPart) -> str:
    return part.text if isinstance(part, TextPart) else part.refusal


class Conversation(_Model):
    """A whole conversation: metadata plus its messages, oldest first.

    `message_count` and `total_tokens` count every message of the conversation, also those a
    store keeps outside the loaded window; `messages` may then hold only the newest ones.
    """

    id: str
    type: Literal["conversation"] = "conversation"
    schema_version: int = 1
    customer_id: str
    session_id: str | None = None
    title: str | None = None
    persona: str | None = None
    org_id: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    message_count: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    summary: str | None = None
    archived: bool = False
    # Pinned conversations are listed on their own, above the others (`ListFilter.pinned`).
    pinned: bool = False
    # The caller's own key of the conversation (any text), unique per customer; set when the
    # conversation is created and never changed (`get_conversation_by_external_id`).
    external_id: str | None = Field(default=None, frozen=True)
    # Seconds after the last write at which the conversation expires (Cosmos DB's `ttl`).
    ttl: int | None = Field(default=None, ge=1)
    # The nonce of the current read-only share link; None when not shared.
    share_id: str | None = None
    # `updated_at` is the last activity (created, messages appended, edited or removed), the
    # order of listings; a header change (rename, pin, archive, ...) sets only this.
    header_updated_at: UtcDatetime | None = None
    messages: list[Message] = Field(default_factory=list)

    # What the store holds, for save_conversation's diff: None until loaded or saved.
    _saved: SavedState | None = PrivateAttr(default=None)

    _check_id = field_validator("id")(classmethod(lambda cls, v: validate_id(v, "conversation id")))
    _check_customer = field_validator("customer_id")(
        classmethod(lambda cls, v: validate_id(v, "customer id"))
    )

    @model_validator(mode="before")
    @classmethod
    def _count_seed_messages(cls, data: Any) -> Any:
        # Seed documents have no counters; derive them from the messages they carry.
        if isinstance(data, dict) and "message_count" not in data:
            messages = data.get("messages") or []
            data = {**data, "message_count": len(messages)}
            data.setdefault(
                "total_tokens",
                sum(m.get("tokens") or 0 for m in messages if isinstance(m, dict)),
            )
        return data

    @model_serializer(mode="wrap")
    def _drop_unset_ttl(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Cosmos DB reads an absent `ttl` as "never expires"; null is not a valid ttl there.
        data: dict[str, Any] = handler(self)
        if data.get("ttl") is None:
            data.pop("ttl", None)
        return data

    @property
    def etag(self) -> str | None:
        """The store's version tag of this document as loaded or last saved."""
        return self._saved.etag if self._saved else None

    @property
    def written_at(self) -> datetime:
        """The last write of any kind (activity or header): what `ttl` counts from."""
        return last_write(self.updated_at, self.header_updated_at)

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document (DESIGN.md §2)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_document(), ensure_ascii=False)


HEADER_FIELDS: tuple[str, ...] = (
    "session_id",
    "title",
    "persona",
    "org_id",
    "metadata",
    "summary",
    "archived",
    "pinned",
    "ttl",
    "share_id",
)


def last_write(updated_at: datetime, header_updated_at: datetime | None) -> datetime:
    """The later of a conversation's last activity and its last header change."""
    return updated_at if header_updated_at is None else max(updated_at, header_updated_at)


class ConversationKey(NamedTuple):
    """Addresses one conversation: its customer (the partition key) and its id."""

    customer_id: str
    conversation_id: str


@dataclass(frozen=True)
class HeaderUpdate:
    """Changes to a conversation's header: whole fields, and single metadata keys.

    Metadata is changed key by key so that two writers touching different keys both win.
    """

    fields: dict[str, JsonValue] = field(default_factory=dict)
    metadata_set: dict[str, JsonValue] = field(default_factory=dict)
    metadata_removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.fields or self.metadata_set or self.metadata_removed)

    def apply(self, header: Mapping[str, Any]) -> dict[str, Any]:
        """`header` (a stored conversation's fields) with this update applied: the fields
        replaced, then metadata (`fields["metadata"]` if given) changed key by key.

        Raises InvalidInputError for a field that is not a header field.
        """
        unknown = sorted(set(self.fields) - set(HEADER_FIELDS))
        if unknown:
            raise InvalidInputError(f"not header fields of a conversation: {unknown}")
        metadata = self.fields.get("metadata", header.get("metadata") or {})
        if not isinstance(metadata, dict):
            raise InvalidInputError("metadata must be a JSON object")
        metadata = {**metadata, **self.metadata_set}
        for key in self.metadata_removed:
            metadata.pop(key, None)
        return {**header, **self.fields, "metadata": metadata}

    def is_applied(self, header: Mapping[str, Any]) -> bool:
        """True if `header` (a stored conversation's fields) already holds every change of
        this update, as it does once the update landed."""
        return self.apply(header) == {**header, "metadata": header.get("metadata") or {}}

    def to_json(self) -> dict[str, JsonValue]:
        """The update as JSON (the outbox queues it); `from_json` reads it back."""
        return {
            "fields": self.fields,
            "metadata_set": self.metadata_set,
            "metadata_removed": list(self.metadata_removed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeaderUpdate:
        return cls(
            fields=dict(data["fields"]),
            metadata_set=dict(data["metadata_set"]),
            metadata_removed=tuple(data["metadata_removed"]),
        )


class SavedState(BaseModel):
    """What the store holds of a conversation, as last seen by this process."""

    etag: str | None
    customer_id: str
    conversation_id: str
    message_ids: tuple[str | None, ...]
    header: dict[str, JsonValue]


class ConversationSummary(_Model):
    """A conversation without its messages, as listed in a sidebar."""

    id: str
    customer_id: str
    session_id: str | None = None
    title: str | None = None
    persona: str | None = None
    org_id: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    message_count: int = 0
    total_tokens: int = 0
    summary: str | None = None
    archived: bool = False
    pinned: bool = False
    external_id: str | None = None
    ttl: int | None = None
    header_updated_at: UtcDatetime | None = None


    @property
    def written_at(self) -> datetime:
        """The last write of any kind (activity or header): what `ttl` counts from."""
        return last_write(self.updated_at, self.header_updated_at)


MetadataScalar = str | int | float | bool | None


def same_json_scalar(stored: object, wanted: MetadataScalar) -> bool:
    """JSON equality of two scalars, as every store compares them: `true` is not `1`, and
    `1` is `1.0`."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return stored is wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and stored == wanted
    return type(stored) is type(wanted) and stored == wanted


@dataclass(frozen=True)
class ListFilter:
    """What a listing keeps besides the `archived` choice: every given field must match
    exactly (None: any). `metadata` is one `(key, value)` pair, the value a JSON scalar.

    Built by `validation.validate_list_filter`, which checks every value.
    """

    pinned: bool | None = None
    session_id: str | None = None
    persona: str | None = None
    org_id: str | None = None
    metadata: tuple[str, MetadataScalar] | None = None

    def matches(self, summary: ConversationSummary) -> bool:
        """Whether `summary` passes the filter (the rule every store's query follows)."""
        texts = {"session_id": self.session_id, "persona": self.persona, "org_id": self.org_id}
        if any(v is not None and getattr(summary, k) != v for k, v in texts.items()):
            return False
        if self.pinned is not None and summary.pinned != self.pinned:
            return False
        if self.metadata is None:
            return True
        key, value = self.metadata
        return key in summary.metadata and same_json_scalar(summary.metadata[key], value)

    def token_key(self, archived: bool | None) -> str:
        """A short fingerprint of this filter and `archived`, kept in continuation tokens so
        that a token is refused by a listing with another filter."""
        data = [archived, self.pinned, self.session_id, self.persona, self.org_id, self.metadata]
        raw = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def unwrap(self, position: list[str], archived: bool | None) -> list[str]:
        """A continuation position without its trailing `token_key`. Raises InvalidInputError
        for a token of another filter (or an older, unkeyed one)."""
        if len(position) < 2 or position[-1] != self.token_key(archived):
            raise InvalidInputError(
                "continuation token is malformed or was issued for a listing with other filters"
            )
        return position[:-1]


NO_FILTER = ListFilter()


class ShareLink(BaseModel):
    """A read-only share link as a store keeps it: the SHA-256 of its token, never the token."""

    token_hash: str
    customer_id: str
    conversation_id: str
    created_at: UtcDatetime = Field(default_factory=utc_now)
    expires_at: UtcDatetime | None = None


    @field_serializer("created_at", "expires_at")
    def _serialize_times(self, value: datetime | None) -> str | None:
        return None if value is None else format_timestamp(value)


class SharedConversation(BaseModel):
    """What a share link shows: the title and the messages, and nothing that names the
    customer or the conversation (no ids, no metadata of the conversation, no etag)."""

    title: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    message_count: int
    messages: list[Message]


# The fields a listing returns: the summary's, defined once by the model above.
SUMMARY_FIELDS: tuple[str, ...] = tuple(ConversationSummary.model_fields)


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `continuation` back to get the next, None at the end."""

    items: list[T]
    continuation: str | None = None


class SearchHit(_Model):
    """One message that matched a search, with a short snippet around the match."""

    conversation_id: str
    conversation_title: str | None = None
    message_id: str | None = None
    role: Role
    snippet: str
    timestamp: UtcDatetime


class CustomerActivity(BaseModel):
    """One customer's share of the stored conversations."""

    customer_id: str
    conversations: int
    messages: int


class Stats(BaseModel):
    """Totals over one customer's conversations, or over every customer's."""

    customer_id: str | None
    conversations: int
    messages: int
    tokens: int
    average_messages: float
    average_tokens: float
    longest_conversation_id: str | None
    longest_conversation_messages: int
    most_active_customers: list[CustomerActivity]
    messages_per_day: dict[str, int]


ImportAction = Literal["create", "merge", "unchanged"]


class ImportReport(BaseModel):
    """What an import did: conversations created, merged into (missing messages added) and
    already present unchanged."""

    created: list[str] = Field(default_factory=list)
    merged: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)

    def record(self, action: ImportAction, conversation_id: str) -> None:
        {"create": self.created, "merge": self.merged, "unchanged": self.unchanged}[action].append(
            conversation_id
        )


class AppendResult(BaseModel):
    """The ids of the appended messages (stored now or by an earlier try), and whether they are
    only queued locally (`pending`) until the store is reachable again."""

    conversation_id: str
    message_ids: list[str]
    pending: bool = False
