"""Pure mapping between the models and the PostgreSQL store's rows, and the SQL it runs.

A conversation row holds the header fields in columns and every field the model does not
know in `extra` (JSON text), so a document round-trips unchanged; messages are JSON text
bodies (text, not jsonb: jsonb cannot hold `\\u0000`, which a message may contain).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from conversation_store.decoding import is_system_body, messages_from_json
from conversation_store.exceptions import InvalidInputError
from conversation_store.models import (
    HEADER_FIELDS,
    SUMMARY_FIELDS,
    Conversation,
    ConversationSummary,
    HeaderUpdate,
    ListFilter,
    Message,
    MetadataScalar,
    ShareLink,
    last_write,
)
from conversation_store.retention import is_expired

# The same header row as SQLite's: one column per summary and header field, plus extra/version.
from conversation_store.stores.sqlite.rows import HEADER_COLUMNS as HEADER_COLUMNS
from conversation_store.stores.sqlite.rows import KNOWN_FIELDS, checked_timestamp
from conversation_store.tracking import mark_saved

# Longer words are indexed by their first characters: a lexeme must stay under 2 KB.
MAX_LEXEME_CHARS = 255
_WORD = re.compile(r"\w+")

# A condition keeping the live (not expired) conversations of alias `c`; one parameter, now.
# The ttl counts from the last write (`models.last_write`); GREATEST skips a NULL.
LIVE = (
    "(c.ttl IS NULL OR "
    "GREATEST(c.updated_at, c.header_updated_at) + make_interval(secs => c.ttl) > %(now)s)"
)


def search_words(content: str | None) -> str:
    """The distinct lowercased words of `content` (as `search.search_terms` splits a query),
    space-separated, each cut to MAX_LEXEME_CHARS: the lexemes of the row's `words`."""
    words = dict.fromkeys(w.lower()[:MAX_LEXEME_CHARS] for w in _WORD.findall(content or ""))
    return " ".join(words)


def search_query(terms: Sequence[str]) -> str:
    """A tsquery asking for every term as a lexeme prefix: `'tok':* & 'kyo':*`.

    Each term is a quoted lexeme, so nothing a user types is read as tsquery syntax; it is
    matched verbatim, without the text-search parser (which splits `foo_bar` or `a.b`).
    """
    quoted = (
        "'" + t[:MAX_LEXEME_CHARS].replace("\\", "\\\\").replace("'", "''") + "':*" for t in terms
    )
    return " & ".join(quoted)


def message_body(message: Message) -> str:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False)


def message_columns(messages: Sequence[Message]) -> dict[str, list[Any]]:
    """The parallel arrays an append unnests: ids, bodies, tokens, timestamps, words."""
    return {
        "ids": [m.id for m in messages],
        "bodies": [message_body(m) for m in messages],
        "tokens": [m.tokens or 0 for m in messages],
        "sent": [m.timestamp for m in messages],
        "words": [search_words(m.text) for m in messages],
    }


def new_header_columns(doc: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    """The column values of a new conversation's row (the counters start at zero)."""
    return {
        "id": conversation.id,
        "customer_id": conversation.customer_id,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "header_updated_at": conversation.header_updated_at,
        "external_id": conversation.external_id,
        **{name: doc.get(name) for name in HEADER_FIELDS if name != "metadata"},
        "metadata": json.dumps(doc["metadata"]),
        "extra": json.dumps({k: v for k, v in doc.items() if k not in KNOWN_FIELDS}),
    }


def updated_header_columns(stored_metadata: str, update: HeaderUpdate) -> dict[str, Any]:
    """The columns `update` sets. Raises InvalidInputError (from `HeaderUpdate.apply`) for a
    name that is not a header field, which matters here since the names become SQL."""
    columns = update.apply({"metadata": json.loads(stored_metadata)})
    return {**columns, "metadata": json.dumps(columns["metadata"])}


def expired(row: dict[str, Any]) -> bool:
    return is_expired(last_write(row["updated_at"], row["header_updated_at"]), row["ttl"])


def filter_conditions(where: ListFilter) -> tuple[list[str], dict[str, Any]]:
    """WHERE conditions (on alias `c`) and their parameters for `where`."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for column in ("pinned", "session_id", "persona", "org_id"):
        value = getattr(where, column)
        if value is not None:
            conditions.append(f"c.{column} = %(where_{column})s")
            params[f"where_{column}"] = value
    if where.metadata is not None:
        key, value = where.metadata
        conditions.append(_metadata_condition(value))
        params["where_key"] = key
        params["where_value"] = _metadata_parameter(value)
    return conditions, params


def _metadata_condition(value: MetadataScalar) -> str:
    """The top-level key holds exactly `value` (`models.same_json_scalar`). `metadata` is
    JSON text (`json`, not `jsonb`, which cannot hold `\\u0000`), written by `json.dumps`, so
    the text of a string or bool is the filter value's `json.dumps` exactly."""
    found = "(c.metadata::json -> %(where_key)s)"
    if value is None:
        return f"json_typeof({found}) = 'null'"
    if isinstance(value, bool):
        return f"(json_typeof({found}) = 'boolean' AND {found}::text = %(where_value)s)"
    if isinstance(value, int | float):
        return (
            f"(json_typeof({found}) = 'number' "
            f"AND ({found}::text)::numeric = %(where_value)s::numeric)"
        )
    return f"(json_typeof({found}) = 'string' AND {found}::text = %(where_value)s)"


def _metadata_parameter(value: MetadataScalar) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


def header_document(row: dict[str, Any]) -> dict[str, JsonValue]:
    """The document fields of a conversation row, without its messages."""
    data: dict[str, Any] = {**json.loads(row["extra"]), **row}
    for name in ("extra", "version", "bodies", "first_body"):
        data.pop(name, None)
    data["metadata"] = json.loads(data["metadata"])
    return data


def summary(row: dict[str, Any]) -> ConversationSummary:
    data = header_document(row)
    return ConversationSummary.model_validate({name: data[name] for name in SUMMARY_FIELDS})


def window_bodies(row: dict[str, Any], *, last: int | None) -> list[str]:
    """The message bodies of a read, oldest first, a leading system message pinned before a
    `last` window that starts after it."""
    bodies: list[str] = list(row["bodies"] or [])
    first = row["first_body"]
    if last is None or first is None or len(bodies) >= row["message_count"]:
        return bodies
    if is_system_body(first) and (not bodies or bodies[0] != first):
        return [first, *bodies]
    return bodies


def keyset(position: list[str]) -> tuple[datetime, str]:
    """The (updated_at, id) position of a listing continuation token.

    Raises InvalidInputError.
    """
    if len(position) != 2:
        raise InvalidInputError("continuation token is malformed")
    stamp = checked_timestamp(position[0])
    return datetime.fromisoformat(stamp), position[1]


def updated_before(value: str) -> datetime:
    """A stored timestamp string as an instant. Raises InvalidInputError."""
    return datetime.fromisoformat(checked_timestamp(value))


def share_link(row: dict[str, Any] | None) -> ShareLink | None:
    return None if row is None else ShareLink.model_validate(row)


def conversation(row: dict[str, Any], *, last: int | None) -> Conversation:
    """The conversation of a read row (header, window bodies), marked as saved."""
    messages = messages_from_json(window_bodies(row, last=last))
    loaded = Conversation.model_validate({**header_document(row), "messages": messages})
    mark_saved(loaded, str(row["version"]))
    return loaded
