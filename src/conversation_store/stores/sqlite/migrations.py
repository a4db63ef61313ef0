"""Named, append-only schema migrations of the SQLite store, applied in order on open.

Never edit or reorder a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

from conversation_store.models import format_timestamp, utc_now
from conversation_store.retention import MAX_TTL_SECONDS
from conversation_store.validation import MAX_EXTERNAL_ID_CHARS

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


def _m002_archive_ttl_share_and_search(db: sqlite3.Connection) -> None:
    _add_header_columns(db)
    _move_legacy_header_fields(db)
    _rebuild_messages_with_stable_rowid(db)
    _create_message_search(db)


def _add_header_columns(db: sqlite3.Connection) -> None:
    for column in (
        "summary TEXT",
        "archived INTEGER NOT NULL DEFAULT 0",
        "ttl INTEGER",
        "share_id TEXT",
    ):
        db.execute(f"ALTER TABLE conversations ADD COLUMN {column}")
    # The sidebar lists active (or archived) conversations newest first.
    db.execute(
        "CREATE INDEX conversations_by_archived "
        "ON conversations (customer_id, archived, updated_at, id)"
    )


# Which stored JSON values each new column takes over from `extra`, where migration 001 kept
# every unknown field: a document imported before these fields existed keeps its values.
_LEGACY_HEADER_FIELDS = {
    "summary": "json_type(extra, '$.summary') IN ('text', 'null')",
    "share_id": "json_type(extra, '$.share_id') IN ('text', 'null')",
    "archived": "json_type(extra, '$.archived') IN ('true', 'false')",
    "ttl": "json_type(extra, '$.ttl') = 'null' OR (json_type(extra, '$.ttl') = 'integer' "
    f"AND json_extract(extra, '$.ttl') BETWEEN 1 AND {MAX_TTL_SECONDS})",
}


def _move_legacy_header_fields(db: sqlite3.Connection) -> None:
    """Move valid legacy values into their columns; any other value stays in `extra`."""
    for name, is_valid in _LEGACY_HEADER_FIELDS.items():
        db.execute(
            f"UPDATE conversations SET {name} = json_extract(extra, '$.{name}'), "
            f"extra = json_remove(extra, '$.{name}') WHERE {is_valid}"
        )


def _rebuild_messages_with_stable_rowid(db: sqlite3.Connection) -> None:
    """Give `messages` an explicit INTEGER PRIMARY KEY, which the search index points at.

    VACUUM may renumber an implicit rowid, which would silently detach an external-content
    FTS5 index; an explicit one never changes. The generated `content` column is what FTS5
    reads. Existing rows keep their rowids.
    """
    db.execute(
        """
        CREATE TABLE messages_002 (
            rowid INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            id TEXT,
            body TEXT NOT NULL,
            content TEXT GENERATED ALWAYS AS (json_extract(body, '$.content')) VIRTUAL,
            UNIQUE (customer_id, conversation_id, seq),
            FOREIGN KEY (customer_id, conversation_id)
                REFERENCES conversations (customer_id, id) ON DELETE CASCADE
        )
        """
    )
    db.execute(
        "INSERT INTO messages_002 (rowid, customer_id, conversation_id, seq, id, body) "
        "SELECT rowid, customer_id, conversation_id, seq, id, body FROM messages"
    )
    db.execute("DROP TABLE messages")
    db.execute("ALTER TABLE messages_002 RENAME TO messages")
    db.execute(
        "CREATE UNIQUE INDEX messages_by_id ON messages (customer_id, conversation_id, id) "
        "WHERE id IS NOT NULL"
    )


def _create_message_search(db: sqlite3.Connection) -> None:
    """An FTS5 index over message content, kept in step with `messages` by triggers.

    `_` is a word character, as in `search.search_terms` (Python's `\\w`): otherwise a term
    of underscores would find nothing, and "bar" would be proposed for "foo_bar".
    """
    db.execute(
        "CREATE VIRTUAL TABLE messages_search USING fts5(content, content='messages', "
        "content_rowid='rowid', tokenize=\"unicode61 remove_diacritics 2 tokenchars '_'\")"
    )
    forget_old = (
        "INSERT INTO messages_search (messages_search, rowid, content) "
        "VALUES ('delete', old.rowid, old.content);"
    )
    index_new = "INSERT INTO messages_search (rowid, content) VALUES (new.rowid, new.content);"
    for event, actions in (
        ("INSERT", index_new),
        ("DELETE", forget_old),
        ("UPDATE", forget_old + " " + index_new),
    ):
        db.execute(
            f"CREATE TRIGGER messages_search_{event.lower()} AFTER {event} ON messages "
            f"BEGIN {actions} END"
        )
    db.execute("INSERT INTO messages_search (messages_search) VALUES ('rebuild')")


def _m003_share_links(db: sqlite3.Connection) -> None:
    """Share links by the SHA-256 of their token (the token itself is never stored); the
    header's `share_id` now holds the token hash of the conversation's current link."""
    db.execute(
        """
        CREATE TABLE share_links (
            token_hash TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT
        ) WITHOUT ROWID
        """
    )
    # Deleting a conversation or a customer deletes its links.
    db.execute(
        "CREATE INDEX share_links_by_conversation ON share_links (customer_id, conversation_id)"
    )


def _m004_pins_and_external_ids(db: sqlite3.Connection) -> None:
    """Pins, the caller's external id (unique per customer: the index is the lock that makes
    two racing creates conflict) and the time of the last header change (header changes no
    longer move `updated_at`, the listing order). Valid legacy values move out of `extra`."""
    for column in (
        "pinned INTEGER NOT NULL DEFAULT 0",
        "external_id TEXT",
        "header_updated_at TEXT",
    ):
        db.execute(f"ALTER TABLE conversations ADD COLUMN {column}")
    db.execute(
        "UPDATE conversations SET pinned = json_extract(extra, '$.pinned'), "
        "extra = json_remove(extra, '$.pinned') "
        "WHERE json_type(extra, '$.pinned') IN ('true', 'false')"
    )
    legacy = "json_extract(conversations.extra, '$.external_id')"
    db.execute(
        f"UPDATE conversations SET external_id = {legacy}, "
        "extra = json_remove(extra, '$.external_id') "
        "WHERE json_type(extra, '$.external_id') = 'text' "
        f"AND length({legacy}) BETWEEN 1 AND {MAX_EXTERNAL_ID_CHARS} "
        f"AND instr({legacy}, char(0)) = 0 "
        "AND (SELECT COUNT(*) FROM conversations AS other "
        "WHERE other.customer_id = conversations.customer_id "
        f"AND json_extract(other.extra, '$.external_id') = {legacy}) = 1"
    )
    db.execute(
        "CREATE UNIQUE INDEX conversations_by_external_id "
        "ON conversations (customer_id, external_id) WHERE external_id IS NOT NULL"
    )


def _m005_search_off_the_append_path(db: sqlite3.Connection) -> None:
    """Appends stop indexing: the search index catches up before each search (`indexing.py`).

    `search_state.indexed_upto` is the highest `messages.rowid` the index has caught up to;
    every row up to it was indexed by the old triggers, so it starts at the newest row. The
    triggers now only keep indexed rows exact (an edit or a delete), and index a new row at
    once only when its rowid is not above the mark (SQLite reuses the top rowid after the
    newest row is deleted). Appends also stop updating `conversations_recent`: the sidebar's
    `conversations_by_archived` index serves listings, and one index fewer moves per append.
    """
    for event in ("insert", "update", "delete"):
        db.execute(f"DROP TRIGGER messages_search_{event}")
    db.execute("DROP INDEX conversations_recent")
    db.execute(
        "CREATE TABLE search_state (only INTEGER PRIMARY KEY CHECK (only = 1), "
        "indexed_upto INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO search_state SELECT 1, COALESCE(MAX(rowid), 0) FROM messages")
    indexed = "(SELECT indexed_upto FROM search_state)"
    forget_old = (
        "INSERT INTO messages_search (messages_search, rowid, content) "
        "VALUES ('delete', old.rowid, old.content);"
    )
    index_new = "INSERT INTO messages_search (rowid, content) VALUES (new.rowid, new.content);"
    for event, row, actions in (
        ("INSERT", "new", index_new),
        ("DELETE", "old", forget_old),
        ("UPDATE OF body", "old", forget_old + " " + index_new),
    ):
        db.execute(
            f"CREATE TRIGGER messages_search_{event.split()[0].lower()} AFTER {event} ON messages "
            f"WHEN {row}.rowid <= {indexed} BEGIN {actions} END"
        )


# A message's rowid is its conversation's number times this, plus its sequence number: the
# messages of a conversation are one range of the table, in order, with no index of their own.
SEQ_SPAN = 1 << 32


def _m006_messages_clustered_by_conversation(db: sqlite3.Connection) -> None:
    """Messages point at their conversation by a small integer, and are stored in its order.

    Each conversation gets a `number`, never given twice (`conversation_numbering`), and a
    `next_seq`, which only grows. A message's rowid is `number * SEQ_SPAN + seq`: one range
    of the table holds a conversation's messages in order, so no order index moves on an
    append. The message id, already in the body, is a generated column, indexed with the
    conversation (exactly-once appends, and the foreign key's cascade). The rows lose the
    customer and conversation ids and the file is about a third smaller.

    Rowids now change, so the search index is built again. From here on its progress is kept
    per conversation (`indexed_seq`: messages below it are indexed); migration 005's global
    mark and its triggers go, and `indexing.py` catches up a customer's conversations.
    """
    for column in (
        "number INTEGER",
        "next_seq INTEGER NOT NULL DEFAULT 0",
        "indexed_seq INTEGER NOT NULL DEFAULT 0",
    ):
        db.execute(f"ALTER TABLE conversations ADD COLUMN {column}")
    keys = db.execute(
        "SELECT customer_id, id FROM conversations ORDER BY created_at, customer_id, id"
    ).fetchall()
    db.executemany(
        "UPDATE conversations SET number = ? WHERE customer_id = ? AND id = ?",
        [(n, *key) for n, key in enumerate(keys, start=1)],
    )
    db.execute("CREATE UNIQUE INDEX conversations_by_number ON conversations (number)")
    db.execute(
        "CREATE TABLE conversation_numbering (only INTEGER PRIMARY KEY CHECK (only = 1), "
        "last_number INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO conversation_numbering VALUES (1, ?)", (len(keys),))
    db.execute(
        f"""
        CREATE TABLE messages_006 (
            rowid INTEGER PRIMARY KEY,
            conversation INTEGER NOT NULL
                REFERENCES conversations (number) ON DELETE CASCADE,
            body TEXT NOT NULL,
            id TEXT GENERATED ALWAYS AS (json_extract(body, '$.id')) VIRTUAL,
            content TEXT GENERATED ALWAYS AS (json_extract(body, '$.content')) VIRTUAL,
            CHECK (rowid >= conversation * {SEQ_SPAN} AND rowid < (conversation + 1) * {SEQ_SPAN})
        )
        """
    )
    db.execute(
        f"INSERT INTO messages_006 (rowid, conversation, body) "
        f"SELECT c.number * {SEQ_SPAN} + row_number() OVER (PARTITION BY c.number "
        "ORDER BY m.seq) - 1, c.number, m.body FROM messages AS m JOIN conversations AS c "
        "ON c.customer_id = m.customer_id AND c.id = m.conversation_id"
    )
    db.execute("DROP TABLE messages")  # and migration 005's triggers with it
    db.execute("DROP TABLE search_state")
    db.execute("ALTER TABLE messages_006 RENAME TO messages")
    db.execute("CREATE UNIQUE INDEX messages_by_id ON messages (conversation, id)")
    db.execute(
        "UPDATE conversations SET next_seq = (SELECT COUNT(*) FROM messages "
        "WHERE conversation = conversations.number)"
    )
    db.execute("INSERT INTO messages_search (messages_search) VALUES ('rebuild')")
    db.execute("UPDATE conversations SET indexed_seq = next_seq")
    _create_clustered_search_triggers(db)


def _create_clustered_search_triggers(db: sqlite3.Connection) -> None:
    """Keep indexed messages exact: an edit re-indexes, a delete forgets. A conversation's
    delete first deletes its messages, while its row still holds `indexed_seq` for their
    trigger; the foreign key's cascade then finds none left."""
    indexed = (
        f"{{row}}.rowid < {{row}}.conversation * {SEQ_SPAN} + "
        "(SELECT indexed_seq FROM conversations WHERE number = {row}.conversation)"
    )
    forget_old = (
        "INSERT INTO messages_search (messages_search, rowid, content) "
        "VALUES ('delete', old.rowid, old.content);"
    )
    index_new = "INSERT INTO messages_search (rowid, content) VALUES (new.rowid, new.content);"
    for event, actions in (
        ("DELETE", forget_old),
        ("UPDATE OF body", forget_old + " " + index_new),
    ):
        db.execute(
            f"CREATE TRIGGER messages_search_{event.split()[0].lower()} AFTER {event} ON messages "
            f"WHEN {indexed.format(row='old')} BEGIN {actions} END"
        )
    db.execute(
        "CREATE TRIGGER conversations_delete_messages BEFORE DELETE ON conversations "
        "BEGIN DELETE FROM messages WHERE conversation = old.number; END"
    )


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_conversations_and_messages", _m001_conversations_and_messages),
    ("002_archive_ttl_share_and_search", _m002_archive_ttl_share_and_search),
    ("003_share_links", _m003_share_links),
    ("004_pins_and_external_ids", _m004_pins_and_external_ids),
    ("005_search_off_the_append_path", _m005_search_off_the_append_path),
    ("006_messages_clustered_by_conversation", _m006_messages_clustered_by_conversation),
]


# Migrations that copy every message, leaving the old copy's pages free inside the file.
_COPYING_MESSAGES = {"006_messages_clustered_by_conversation"}


def reclaim_space(db: sqlite3.Connection, applied: list[str]) -> None:
    """After a migration that copied every message, give the old copy's pages back (VACUUM).

    Skipped when another connection keeps the file busy: the free pages are then reused by
    later writes, and nothing is lost either way.
    """
    if _COPYING_MESSAGES.isdisjoint(applied):
        return
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("VACUUM")


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
