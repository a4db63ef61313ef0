"""The search index of the SQLite store, kept off the append path and exact at every search.

An append writes only its message row. Each conversation row keeps `indexed_seq`: its
messages with a lower sequence number are in the FTS5 index, the ones from it up to
`next_seq` are not yet. Before a search of a customer, `catch_up` indexes that customer's
waiting messages in one write transaction, so the search sees every message acknowledged
before it started. Indexed messages are kept exact by the triggers of migration 006 (an edit
re-indexes its row, a delete forgets it); waiting ones are indexed as they are at the catch-up.
"""

from __future__ import annotations

import sqlite3

from conversation_store.stores.sqlite.migrations import SEQ_SPAN

_INDEX_WAITING = (
    "INSERT INTO messages_search (rowid, content) SELECT rowid, content FROM messages "
    f"WHERE rowid >= ?1 * {SEQ_SPAN} + ?2 AND rowid < ?1 * {SEQ_SPAN} + ?3 "
    "AND +conversation = ?1"  # `+`: the rowid range, not the id index, finds the rows
)
_WAITING = "SELECT number, indexed_seq, next_seq FROM conversations WHERE indexed_seq < next_seq"


def pending(db: sqlite3.Connection, customer_id: str | None = None) -> bool:
    """Whether the customer's conversations (or any, for None) have messages waiting to be
    indexed (a read, no lock taken)."""
    sql, params = _waiting(customer_id)
    return db.execute(sql + " LIMIT 1", params).fetchone() is not None


def catch_up(db: sqlite3.Connection, customer_id: str | None = None) -> int:
    """Index the waiting messages of the customer's conversations (or of all, for None) and
    move their marks; inside the caller's write transaction. Returns how many rows it indexed.
    """
    sql, params = _waiting(customer_id)
    indexed = 0
    for number, indexed_seq, next_seq in db.execute(sql, params).fetchall():
        # In SQL, where a value changed by hand is only a number that selects nothing, and
        # never a row of another conversation.
        indexed += db.execute(_INDEX_WAITING, (number, indexed_seq, next_seq)).rowcount
        db.execute(
            "UPDATE conversations SET indexed_seq = ? WHERE number = ?", (next_seq, number)
        )
    return indexed


def _waiting(customer_id: str | None) -> tuple[str, tuple[str, ...]]:
    if customer_id is None:
        return _WAITING, ()
    return _WAITING + " AND customer_id = ?", (customer_id,)
