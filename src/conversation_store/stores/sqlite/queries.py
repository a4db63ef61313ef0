"""SQL of the SQLite store that spans conversations: the TTL filter, search and day counts.

Kept apart from `store.py` so the store class stays a readable list of protocol methods.
Every function takes an open connection and runs one statement; the caller owns transactions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from conversation_store.decoding import stored_document
from conversation_store.models import ListFilter, MetadataScalar, SearchHit
from conversation_store.retention import is_expired
from conversation_store.search import search_hit, search_terms
from conversation_store.validation import validate_query


def register_functions(db: sqlite3.Connection) -> None:
    """Make `conversation_expired` callable from SQL on this connection (see `live`)."""
    db.create_function("conversation_expired", 3, _conversation_expired, deterministic=True)


def _conversation_expired(updated_at: str, ttl: int, now: str) -> bool:
    # The same rule as every other store, so the stores agree to the microsecond.
    return is_expired(datetime.fromisoformat(updated_at), ttl, datetime.fromisoformat(now))


def live(table: str) -> str:
    """A WHERE condition keeping the conversations of `table` that have not expired.

    It takes one parameter: the current time as a stored timestamp string. The `ttl` counts
    from the last write (`models.last_write`): stored timestamps compare as instants.
    """
    written = f"max({table}.updated_at, coalesce({table}.header_updated_at, {table}.updated_at))"
    return f"({table}.ttl IS NULL OR NOT conversation_expired({written}, {table}.ttl, ?))"


# How `json_each` types a stored metadata value that equals a filter value of each kind.
_JSON_TYPES = {"number": ("integer", "real"), "text": ("text",)}


def filter_conditions(where: ListFilter) -> tuple[list[str], list[Any]]:
    """WHERE conditions (on table `conversations`) and their parameters for `where`."""
    conditions: list[str] = []
    params: list[Any] = []
    if where.pinned is not None:
        conditions.append("pinned = ?")
        params.append(int(where.pinned))
    for column in ("session_id", "persona", "org_id"):
        value = getattr(where, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if where.metadata is not None:
        condition, values = _metadata_condition(*where.metadata)
        conditions.append(condition)
        params += values
    return conditions, params


def _metadata_condition(key: str, value: MetadataScalar) -> tuple[str, list[Any]]:
    """The top-level metadata key holds exactly `value` (`models.same_json_scalar`)."""
    each = "EXISTS (SELECT 1 FROM json_each(conversations.metadata) AS m WHERE m.key = ? AND "
    if value is None:
        return each + "m.type = 'null')", [key]
    if isinstance(value, bool):
        return each + "m.type = ?)", [key, "true" if value else "false"]
    kinds = _JSON_TYPES["number" if isinstance(value, int | float) else "text"]
    marks = ", ".join("?" * len(kinds))
    return each + f"m.type IN ({marks}) AND m.value = ?)", [key, *kinds, value]


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 query asking for every term as a word prefix: `"tok"* "kyo"*`.

    Each term is a quoted string, so quotes, `*`, `-`, `:`, `NEAR(` or `OR` typed by a user
    are searched as text and never read as FTS5 syntax.
    """
    return " ".join('"' + term.replace('"', '""') + '"*' for term in terms)


# The index's candidates in the customer's live conversations: SQLite reads those
# conversations once, into a temporary index, and only when the index proposes a candidate.
_SEARCH = f"""
    SELECT m.body, m.conversation
    FROM messages_search
    JOIN messages AS m ON m.rowid = messages_search.rowid
    WHERE messages_search MATCH ? AND m.conversation IN (
        SELECT number FROM conversations WHERE customer_id = ? AND {live("conversations")}
    )
    ORDER BY bm25(messages_search), json_extract(m.body, '$.timestamp') DESC, m.rowid DESC
"""


def search_messages(
    db: sqlite3.Connection, *, customer_id: str, query: str, limit: int, now: str
) -> list[SearchHit]:
    """The best `limit` messages of the customer's live conversations holding every term.

    FTS5 finds the candidates; `search.matches` then applies the rule every store shares
    (FTS5 also folds diacritics, so it may propose a few more). Known gap: FTS5 reads a
    combining mark as part of a word where Python's `\\w` does not, so in decomposed (NFD)
    text a term right after a mark ("b" in "a\\u0301b") is not found here.

    Raises InvalidInputError for a query `validation.validate_query` refuses: checked here
    too, since the query becomes FTS5 syntax.
    """
    terms = search_terms(validate_query(query))
    titles: dict[int, tuple[str, str | None]] = {}

    def conversation_of(number: int) -> tuple[str, str | None]:
        # Only for the rows read, about `limit` of them, in the cursor's read transaction.
        if number not in titles:
            row = db.execute(
                "SELECT id, title FROM conversations WHERE number = ?", (number,)
            ).fetchone()
            titles[number] = (row["id"], row["title"])
        return titles[number]

    cursor = db.execute(_SEARCH, (fts_query(terms), customer_id, now))
    try:
        found = (
            search_hit(*conversation_of(row["conversation"]), stored_document(row["body"]), terms)
            for row in cursor
        )
        return list(islice((hit for hit in found if hit is not None), limit))
    finally:
        cursor.close()  # ends the read at once, even when the best hits came first


def count_messages_by_day(
    db: sqlite3.Connection, *, customer_id: str | None, now: str
) -> dict[str, int]:
    """Messages of live conversations per `YYYY-MM-DD` of their timestamp, oldest day first."""
    where, params = live("c"), [now]
    if customer_id is not None:
        where += " AND c.customer_id = ?"
        params.append(customer_id)
    rows = db.execute(
        "SELECT substr(json_extract(m.body, '$.timestamp'), 1, 10) AS day, COUNT(*) "
        "FROM messages AS m JOIN conversations AS c ON c.number = m.conversation "
        f"WHERE {where} GROUP BY day HAVING day IS NOT NULL ORDER BY day",  # NULL: by hand
        params,
    )
    return {day: count for day, count in rows}
