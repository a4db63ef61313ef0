"""Named, append-only schema migrations of the SQLite store, applied in order on open.

Never edit or reorder a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..models import format_timestamp, utc_now

Migration = Callable[[sqlite3.Connection], None]


def _m001_conversations_and_messages(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE conversations (
            customer_id TEXT NOT NULL,
            id TEXT NOT NULL,
            session_id TEXT,
            title TEXT,
            persona TEXT,
            org_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            extra TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            message_count INTEGER NOT NULL DEFAULT 0,
            total_tokens INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (customer_id, id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX conversations_recent ON conversations (customer_id, updated_at, id)")
    db.execute(
        """
        CREATE TABLE messages (
            customer_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            id TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (customer_id, conversation_id, seq),
            FOREIGN KEY (customer_id, conversation_id)
                REFERENCES conversations (customer_id, id) ON DELETE CASCADE
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX messages_by_id ON messages (customer_id, conversation_id, id) "
        "WHERE id IS NOT NULL"
    )


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_conversations_and_messages", _m001_conversations_and_messages),
]


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it while we waited for the write lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                continue
            migrate(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, format_timestamp(utc_now())),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
