"""Pure query logic of the Cosmos stores: the SQL they send and what they make of the rows.

Sync and aio share all of it. Heads are items of type "conversation" or of no type at all
(seed documents); segments have type "segment", name their head in `conversation_id` and count
only when their `generation` is the head's (`items.generation_of`). Share-link items (type
"share_link", each in its own `_share:<token hash>` partition) match none of these queries: every
query selects heads or segments by type.

Expiry: Cosmos DB hides a head `ttl` seconds after its last write (`_ts`). A Cosmos-compatible
server that does not enforce TTL (the local test server) would still return it, so every query
a user sees also filters on `LIVE`, and point reads check `items.head_expired`. Segments
carry no `ttl` (their `_ts` is the time they were sealed, not the conversation's last write),
so a segment is only live through its head: queries that reach segments look their heads up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import SUMMARY_FIELDS, ConversationKey, ListFilter, SearchHit
from conversation_store.search import checked_hit, matches, snippet
from conversation_store.stores.continuation import decode_continuation, encode_continuation
from conversation_store.stores.cosmos.items import HEAD_CONDITION, HEAD_TYPES, generation_of

MAX_IDS_PER_QUERY = 100  # conversation ids per ARRAY_CONTAINS(@ids, ...) parameter

HEAD = HEAD_CONDITION
LIVE = "(NOT IS_NUMBER(c.ttl) OR c._ts + c.ttl > @now)"

_SUMMARY = ", ".join(f"c.{f}" for f in SUMMARY_FIELDS)

# `archived` absent (documents written before it existed) counts as false.
ACTIVE_FILTER = " AND (NOT IS_DEFINED(c.archived) OR c.archived = false)"
ARCHIVED_FILTER = " AND c.archived = true"
CUSTOMER_FILTER = " AND c.customer_id = @customer_id"
UPDATED_BEFORE_FILTER = " AND c.updated_at < @updated_before"
_ARCHIVED_FILTERS: dict[bool | None, str] = {False: ACTIVE_FILTER, True: ARCHIVED_FILTER, None: ""}
# `pinned` absent (documents written before it existed) counts as false.
_PINNED_FILTERS = {
    False: " AND (NOT IS_DEFINED(c.pinned) OR c.pinned = false)",
    True: " AND c.pinned = true",
}

LIST_QUERY = (
    f"SELECT {_SUMMARY} FROM c WHERE c.customer_id = @customer_id AND {HEAD} AND {LIVE}"
    "{filters} ORDER BY c.updated_at DESC"
)
# Matched on the stored text itself, in the customer's partition only: nothing is hashed,
# and no external id can select another customer's conversation.
EXTERNAL_ID_QUERY = (
    "SELECT c.id FROM c WHERE c.customer_id = @customer_id AND c.external_id = @external_id "
    f"AND {HEAD} AND {LIVE}"
)
SEGMENTS_QUERY = (
    "SELECT * FROM c WHERE c.customer_id = @customer_id AND c.type = 'segment' "
    "AND c.conversation_id = @conversation_id"
)
SEGMENT_IDS_QUERY = (
    "SELECT c.id, c.generation, c._etag FROM c WHERE c.customer_id = @customer_id "
    "AND c.type = 'segment' "
    "AND c.conversation_id = @conversation_id"
)
SEGMENT_HOLDING_QUERY = (
    SEGMENTS_QUERY + ' AND ARRAY_CONTAINS(c.messages, {"id": @message_id}, true)'
)
# Message bodies are not indexed: CONTAINS narrows the candidates inside the customer's
# partition, `search.matches` then confirms each one (word starts, which SQL cannot express).
SEARCH_QUERY = (
    "SELECT c.id, c.type, c.conversation_id, c.generation, c.title, m.id AS message_id, m.role, "
    "m.content, "
    "m.timestamp FROM c JOIN m IN c.messages WHERE c.customer_id = @customer_id "
    f"AND (c.type = 'segment' OR ({HEAD} AND {LIVE})) AND {{terms}}"
)
TITLES_QUERY = (
    "SELECT c.id, c.title, c.generation FROM c WHERE c.customer_id = @customer_id "
    f"AND ARRAY_CONTAINS(@ids, c.id) AND {HEAD} AND {LIVE}"
)
CUSTOMER_ITEMS_QUERY = "SELECT c.id, c.type FROM c WHERE c.customer_id = @customer_id"
SCAN_QUERY = f"SELECT {_SUMMARY} FROM c WHERE {HEAD}"
LIVE_HEADS_QUERY = f"SELECT c.customer_id, c.id, c.generation FROM c WHERE {HEAD} AND {LIVE}"
HEAD_DAYS_QUERY = f"SELECT VALUE m.timestamp FROM c JOIN m IN c.messages WHERE {HEAD} AND {LIVE}"
HEAD_IDS_QUERY = f"SELECT c.customer_id, c.id, c.generation FROM c WHERE {HEAD}"
OLD_SEGMENTS_QUERY = (
    "SELECT c.customer_id, c.id, c.type, c.conversation_id, c.generation, c._etag FROM c "
    "WHERE c.type = 'segment' AND c._ts < @written_before"
)
SEGMENT_DAYS_QUERY = (
    "SELECT c.customer_id, c.conversation_id, c.generation, m.timestamp "
    "FROM c JOIN m IN c.messages "
    "WHERE c.type = 'segment'"
)


@dataclass(frozen=True)
class Query:
    """One SQL query, its parameters, and the partition it runs in (None: every partition)."""

    text: str
    parameters: list[dict[str, Any]]
    partition_key: str | None


def parameters(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


def _scoped(text: str, customer_id: str | None, **values: Any) -> Query:
    """`text` in one customer's partition, or (None) across all, with the customer filter."""
    if customer_id is None:
        return Query(text, parameters(**values), None)
    return Query(text + CUSTOMER_FILTER, parameters(customer_id=customer_id, **values), customer_id)


# -- one customer's conversations --------------------------------------------------------------


def list_query(customer_id: str, archived: bool | None, where: ListFilter, now: int) -> Query:
    """The customer's live heads that `archived` and `where` keep, every value a parameter."""
    filters = _ARCHIVED_FILTERS[archived]
    values: dict[str, Any] = {"customer_id": customer_id, "now": now}
    if where.pinned is not None:
        filters += _PINNED_FILTERS[where.pinned]
    for field in ("session_id", "persona", "org_id"):
        value = getattr(where, field)
        if value is not None:
            filters += f" AND c.{field} = @{field}"
            values[field] = value
    if where.metadata is not None:
        # Cosmos DB compares by JSON type (`true` is not `1`; `1` is `1.0`), as
        # `models.same_json_scalar` does; a missing key is undefined and matches nothing.
        filters += " AND c.metadata[@metadata_key] = @metadata_value"
        values["metadata_key"], values["metadata_value"] = where.metadata
        if where.metadata[1] is None:
            filters += " AND IS_NULL(c.metadata[@metadata_key])"
    text = LIST_QUERY.replace("{filters}", filters)
    return Query(text, parameters(**values), customer_id)


def list_position(
    continuation: str | None, customer_id: str, archived: bool | None, where: ListFilter
) -> str | None:
    """The SDK continuation inside our token. Raises InvalidInputError for a token issued for
    another customer or another filter (the SDK token belongs to one query)."""
    if continuation is None:
        return None
    position = where.unwrap(decode_continuation(continuation, customer_id), archived)
    if len(position) != 1:
        raise InvalidInputError("continuation token is malformed")
    return position[0]


def list_continuation(
    customer_id: str, archived: bool | None, where: ListFilter, token: str | None
) -> str | None:
    if token is None:
        return None
    return encode_continuation(customer_id, [token, where.token_key(archived)])


def external_id_query(customer_id: str, external_id: str, now: int) -> Query:
    values = parameters(customer_id=customer_id, external_id=external_id, now=now)
    return Query(EXTERNAL_ID_QUERY, values, customer_id)


def _in_conversation(text: str, key: ConversationKey, **values: Any) -> Query:
    """`text` over the items of one conversation (its parameters named after the key's)."""
    return Query(text, parameters(**key._asdict(), **values), key.customer_id)


def segments_query(key: ConversationKey) -> Query:
    return _in_conversation(SEGMENTS_QUERY, key)


def segment_ids_query(key: ConversationKey) -> Query:
    return _in_conversation(SEGMENT_IDS_QUERY, key)


def segment_holding_query(key: ConversationKey, message_id: str) -> Query:
    return _in_conversation(SEGMENT_HOLDING_QUERY, key, message_id=message_id)


def customer_items_query(customer_id: str) -> Query:
    return Query(CUSTOMER_ITEMS_QUERY, parameters(customer_id=customer_id), customer_id)


# -- search ------------------------------------------------------------------------------------


def search_query(customer_id: str, terms: Sequence[str], now: int) -> Query:
    """Messages whose lowercased content contains every term (a superset of the matches)."""
    clauses = " AND ".join(f"CONTAINS(LOWER(m.content), @t{n})" for n in range(len(terms)))
    values = parameters(customer_id=customer_id, now=now)
    values += [{"name": f"@t{n}", "value": term} for n, term in enumerate(terms)]
    return Query(SEARCH_QUERY.replace("{terms}", clauses), values, customer_id)


def confirmed(rows: Iterable[dict[str, Any]], terms: list[str]) -> list[dict[str, Any]]:
    """The candidate rows whose content really matches (every term at a word start)."""
    return [row for row in rows if matches(row.get("content"), terms)]


def segment_conversation_ids(rows: Iterable[dict[str, Any]]) -> list[list[str]]:
    """The conversations whose segments matched, in groups of at most MAX_IDS_PER_QUERY."""
    ids = sorted({str(row["conversation_id"]) for row in rows if row.get("type") == "segment"})
    return [ids[n : n + MAX_IDS_PER_QUERY] for n in range(0, len(ids), MAX_IDS_PER_QUERY)]


def titles_query(customer_id: str, conversation_ids: list[str], now: int) -> Query:
    values = parameters(customer_id=customer_id, ids=conversation_ids, now=now)
    return Query(TITLES_QUERY, values, customer_id)


def live_heads(
    rows: Iterable[dict[str, Any]],
) -> dict[str, tuple[str | None, str]]:
    """The title and generation of each head of `titles_query`'s rows, by conversation id."""
    return {str(row["id"]): (row.get("title"), generation_of(row)) for row in rows}


def search_hits(
    rows: Iterable[dict[str, Any]],
    heads: Mapping[str, tuple[str | None, str]],
    terms: list[str],
    limit: int,
) -> list[SearchHit]:
    """Confirmed rows as hits, newest message first. A segment row counts only when its head
    is live and of its generation (`heads`: title and generation of every live head that
    segment rows point to)."""
    hits: list[SearchHit] = []
    for row in rows:
        if row.get("type") == "segment":
            conversation_id = str(row["conversation_id"])
            head = heads.get(conversation_id)
            if head is None or head[1] != generation_of(row):
                continue  # its head expired or is gone, or it is a dead generation's segment
            title = head[0]
        else:
            conversation_id, title = str(row["id"]), row.get("title")
        hit = checked_hit(
            {
                "conversation_id": conversation_id,
                "conversation_title": title,
                "message_id": row.get("message_id"),
                "role": row.get("role"),
                "snippet": snippet(str(row.get("content") or ""), terms),
                "timestamp": row.get("timestamp"),
            }
        )
        if hit is not None:
            hits.append(hit)
    hits.sort(key=lambda hit: hit.timestamp, reverse=True)
    return hits[:limit]


# -- operators: every customer, or one --------------------------------------------------------


def scan_query(customer_id: str | None, updated_before: str | None) -> Query:
    if updated_before is None:
        return _scoped(SCAN_QUERY, customer_id)
    return _scoped(SCAN_QUERY + UPDATED_BEFORE_FILTER, customer_id, updated_before=updated_before)


def live_heads_query(customer_id: str | None, now: int) -> Query:
    return _scoped(LIVE_HEADS_QUERY, customer_id, now=now)


def head_days_query(customer_id: str | None, now: int) -> Query:
    return _scoped(HEAD_DAYS_QUERY, customer_id, now=now)


def segment_days_query(customer_id: str | None) -> Query:
    return _scoped(SEGMENT_DAYS_QUERY, customer_id)


def count_head_days(days: dict[str, int], timestamps: Iterable[object]) -> None:
    """Add messages of live heads to `days`, by the first 10 characters of their timestamp."""
    for timestamp in timestamps:
        if isinstance(timestamp, str):
            days[timestamp[:10]] = days.get(timestamp[:10], 0) + 1


def head_identity(head: Mapping[str, Any]) -> tuple[str, str, str]:
    """(customer_id, conversation id, generation) of a head row."""
    return str(head["customer_id"]), str(head["id"]), generation_of(head)


def segment_identity(segment: Mapping[str, Any]) -> tuple[str, str, str]:
    """(customer_id, conversation id, generation) of the head a segment row belongs to."""
    return str(segment["customer_id"]), str(segment["conversation_id"]), generation_of(segment)


def count_segment_days(
    days: dict[str, int], rows: Iterable[dict[str, Any]], live: set[tuple[str, str, str]]
) -> None:
    """Add messages of segments whose head is live and of their generation (`live`: the
    `head_identity` of every live head)."""
    count_head_days(days, (row.get("timestamp") for row in rows if segment_identity(row) in live))


def head_ids_query(customer_id: str | None) -> Query:
    return _scoped(HEAD_IDS_QUERY, customer_id)


def old_segments_query(customer_id: str | None, written_before: int) -> Query:
    return _scoped(OLD_SEGMENTS_QUERY, customer_id, written_before=written_before)


def orphans(
    segments: Iterable[dict[str, Any]], heads: Iterable[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The segments whose head is not among `heads`, or is of another generation (a delete,
    clear or crash left them), by customer."""
    present = {head_identity(head) for head in heads}
    found: dict[str, list[dict[str, Any]]] = {}
    for segment in segments:
        if segment_identity(segment) not in present:
            found.setdefault(str(segment["customer_id"]), []).append(segment)
    return found


# -- deleting a customer ----------------------------------------------------------------------


def is_head(item: Mapping[str, Any]) -> bool:
    return item.get("type") in HEAD_TYPES


def deletion_batches(items: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Every item of a customer in batches of `size`, heads first: if a delete is interrupted,
    what remains is invisible (segments without a head), and a retry removes it."""
    ordered = sorted(items, key=lambda item: not is_head(item))
    return [ordered[n : n + size] for n in range(0, len(ordered), size)]
