"""Pure mapping between the models and the SQLite store's rows, and checks of what becomes SQL.

A conversation row holds the header fields in columns and every field the model does not
know in `extra` (JSON), so a document round-trips unchanged; messages are JSON bodies.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import (
    HEADER_FIELDS,
    ConversationSummary,
    Message,
    format_timestamp,
    utc_now,
)
from conversation_store.retention import is_expired
from conversation_store.stores.protocol import HeaderUpdate

HEADER_COLUMNS = (
    "id, customer_id, session_id, title, persona, org_id, metadata, extra, created_at, "
    "updated_at, message_count, total_tokens, summary, archived, ttl, share_id, version"
)
_KNOWN_FIELDS = {
    *HEADER_FIELDS,
    "id",
    "type",
    "schema_version",
    "customer_id",
    "created_at",
    "updated_at",
    "message_count",
    "total_tokens",
    "messages",
}
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """The current time as a stored timestamp string."""
    return format_timestamp(utc_now())


def checked_timestamp(value: str) -> str:
    """`value` if it is a timestamp in the stored format, which alone compares as an instant.

    Raises InvalidInputError.
    """
    try:
        parsed = datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or format_timestamp(parsed) != value:
        raise InvalidInputError("a timestamp must look like 2025-01-24T10:30:00.000000Z")
    return value


def expired(row: sqlite3.Row) -> bool:
    """Whether the conversation of this header row has outlived its `ttl`."""
    return is_expired(datetime.fromisoformat(row["updated_at"]), row["ttl"])


def keyset(position: list[str]) -> list[str]:
    """The (updated_at, id) position of a listing continuation token."""
    if len(position) != 2:
        raise InvalidInputError("continuation token is malformed")
    return position


def message_body(message: Message) -> str:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False)


def new_header_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """The column values of a new conversation's row (the counters start at their defaults)."""
    return {
        **{name: doc[name] for name in ("id", "customer_id", "created_at", "updated_at")},
        **{name: doc.get(name) for name in HEADER_FIELDS if name != "metadata"},
        "metadata": json.dumps(doc["metadata"]),
        "extra": json.dumps({k: v for k, v in doc.items() if k not in _KNOWN_FIELDS}),
    }


def updated_header_columns(stored_metadata: str, update: HeaderUpdate) -> dict[str, Any]:
    """The columns `update` sets: its fields, and metadata whole (`fields["metadata"]`) and
    then key by key.

    Raises InvalidInputError for a name that is not a header field, since names become SQL.
    """
    unknown = sorted(set(update.fields) - set(HEADER_FIELDS))
    if unknown:
        raise InvalidInputError(f"not header fields of a conversation: {unknown}")
    metadata = update.fields.get("metadata", json.loads(stored_metadata))
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata must be a JSON object")
    metadata = {**metadata, **update.metadata_set}
    for key in update.metadata_removed:
        metadata.pop(key, None)
    return {**update.fields, "metadata": json.dumps(metadata)}


def header_document(row: sqlite3.Row) -> dict[str, JsonValue]:
    """The document fields of a conversation row, without its messages."""
    # Columns win over `extra`: it may still hold a legacy value a column could not take.
    data: dict[str, Any] = {**json.loads(row["extra"]), **dict(row)}
    del data["extra"], data["version"]
    data["metadata"] = json.loads(data["metadata"])
    data["archived"] = bool(data["archived"])
    return data


def summary(row: sqlite3.Row) -> ConversationSummary:
    data = header_document(row)
    del data["share_id"]  # a share link's nonce comes only with the whole conversation
    return ConversationSummary.model_validate(data)
