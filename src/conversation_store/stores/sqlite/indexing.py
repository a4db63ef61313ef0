"""The search index of the SQLite store, kept off the append path and exact at every search.

An append writes only its message row. `search_state.indexed_upto` is the highest message
rowid the FTS5 index has caught up to; before each search, `catch_up` indexes the rows above
it in one write transaction, so a search sees every message acknowledged before it started.
Rows at or below the mark are kept exact by the triggers of migration 005 (an edit re-indexes
its row, a delete forgets it); rows above it are indexed as they are at the catch-up.
"""

from __future__ import annotations

import sqlite3

_PENDING = "SELECT indexed_upto, (SELECT COALESCE(MAX(rowid), 0) FROM messages) FROM search_state"


def pending(db: sqlite3.Connection) -> bool:
    """Whether messages were written since the last catch-up (a read, no lock taken)."""
    indexed_upto, newest = db.execute(_PENDING).fetchone()
    return bool(newest > indexed_upto)


def catch_up(db: sqlite3.Connection) -> int:
    """Index the messages above the mark and move it; inside the caller's write transaction.

    Returns how many rows were indexed.
    """
    indexed_upto, newest = db.execute(_PENDING).fetchone()
    if newest <= indexed_upto:
        return 0
    indexed: int = db.execute(
        "INSERT INTO messages_search (rowid, content) "
        "SELECT rowid, content FROM messages WHERE rowid > ? AND rowid <= ?",
        (indexed_upto, newest),
    ).rowcount
    db.execute("UPDATE search_state SET indexed_upto = ?", (newest,))
    return indexed
