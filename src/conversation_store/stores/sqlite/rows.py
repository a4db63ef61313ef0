"""Pure mapping between the models and the SQLite store's rows, and checks of what becomes SQL.

A conversation row holds the header fields in columns and every field the model does not
know in `extra` (JSON), so a document round-trips unchanged; messages are JSON bodies.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from conversation_store.decoding import readable
from conversation_store.exceptions import InvalidInputError
from conversation_store.models import (
    HEADER_FIELDS,
    SUMMARY_FIELDS,
    Conversation,
    ConversationKey,
    ConversationSummary,
    HeaderUpdate,
    Message,
    ShareLink,
    format_timestamp,
    last_write,
    utc_now,
)
from conversation_store.retention import is_expired
from conversation_store.stores.sqlite.migrations import SEQ_SPAN

# Numbers below this keep every rowid (`number * SEQ_SPAN + seq`) within SQLite's 64 bits.
MAX_CONVERSATION_NUMBER = 1 << 31

# A header row: the summary and header fields, the fields the model does not know, its version.
HEADER_COLUMNS = ", ".join((*dict.fromkeys((*SUMMARY_FIELDS, *HEADER_FIELDS)), "extra", "version"))
KNOWN_FIELDS = set(Conversation.model_fields) - {"schema_version"}  # no column: kept in extra
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_NO_METADATA = {"metadata"}


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
    header_time = row["header_updated_at"]
    written = last_write(
        datetime.fromisoformat(row["updated_at"]),
        None if header_time is None else datetime.fromisoformat(header_time),
    )
    return is_expired(written, row["ttl"])


def append_position(key: ConversationKey, row: sqlite3.Row) -> tuple[int, int]:
    """The conversation's `number` and `next_seq`, checked: a row changed by hand could hold
    any value there, and an append must not compute a rowid from it.

    Raises InvalidInputError naming the conversation.
    """
    number, next_seq = row["number"], row["next_seq"]
    if (
        type(number) is int
        and type(next_seq) is int
        and 1 <= number < MAX_CONVERSATION_NUMBER
        and 0 <= next_seq <= SEQ_SPAN
    ):
        return number, next_seq
    raise InvalidInputError(
        f"conversation {key.conversation_id!r} of customer {key.customer_id!r} is stored "
        "in a form that cannot be appended to (its number or next sequence number)"
    )


def keyset(position: list[str]) -> list[str]:
    """The (updated_at, id) position of a listing continuation token.

    Raises InvalidInputError, also for a lone surrogate, which SQLite cannot bind.
    """
    if len(position) != 2 or not all(_is_utf8(part) for part in position):
        raise InvalidInputError("continuation token is malformed")
    return position


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def message_body(message: Message) -> str:
    """The stored JSON of a message; empty metadata is left out (it reads back as `{}`)."""
    if message.metadata:
        return message.model_dump_json()
    return message.model_dump_json(exclude=_NO_METADATA)


def message_rows(messages: Sequence[Message]) -> list[tuple[Message, str]]:
    """Each message with its stored JSON."""
    return [(message, message_body(message)) for message in messages]


def new_header_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """The column values of a new conversation's row (the counters start at their defaults)."""
    return {
        **{name: doc[name] for name in ("id", "customer_id", "created_at", "updated_at")},
        **{name: doc.get(name) for name in HEADER_FIELDS if name != "metadata"},
        "external_id": doc.get("external_id"),
        "header_updated_at": doc.get("header_updated_at"),
        "metadata": json.dumps(doc["metadata"]),
        "extra": json.dumps({k: v for k, v in doc.items() if k not in KNOWN_FIELDS}),
    }


def updated_header_columns(stored_metadata: str, update: HeaderUpdate) -> dict[str, Any]:
    """The columns `update` sets: its fields, and the metadata it leads to.

    Raises InvalidInputError (from `HeaderUpdate.apply`) for a name that is not a header
    field, which matters here since the names become SQL.
    """
    columns = update.apply({"metadata": json.loads(stored_metadata)})
    return {**columns, "metadata": json.dumps(columns["metadata"])}


def header_document(row: sqlite3.Row) -> dict[str, JsonValue]:
    """The document fields of a conversation row, without its messages."""
    # Columns win over `extra`: it may still hold a legacy value a column could not take.
    data: dict[str, Any] = {**json.loads(row["extra"]), **dict(row)}
    del data["extra"], data["version"]
    data.pop("number", None)  # the file's own key of the row, when it was read
    data["metadata"] = json.loads(data["metadata"])
    data["archived"] = bool(data["archived"])
    data["pinned"] = bool(data["pinned"])
    return data


def share_link_row(link: ShareLink) -> tuple[str, str, str, str, str | None]:
    """The `share_links` row of a link; its timestamps in the stored (sortable) format."""
    expires_at = None if link.expires_at is None else format_timestamp(link.expires_at)
    return (
        link.token_hash,
        link.customer_id,
        link.conversation_id,
        format_timestamp(link.created_at),
        expires_at,
    )


def summary(row: sqlite3.Row) -> ConversationSummary:
    # Only the summary fields: a share link's nonce comes only with the whole conversation.
    with readable(ConversationKey(row["customer_id"], row["id"])):
        data = header_document(row)
        return ConversationSummary.model_validate({name: data[name] for name in SUMMARY_FIELDS})
