"""The embedded store: one SQLite file, WAL, one connection per thread.

Messages are rows (not one JSON blob), so an append writes one row whatever the length of
the conversation. Every write is one `BEGIN IMMEDIATE` transaction, one at a time per process;
appends that wait for one another share a transaction and its commit (`group_commit`).
A conversation whose `ttl` has run out (`retention.is_expired`) reads as missing until it is
deleted; only `scan_conversations` still shows it, so cleanup can find it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from conversation_store.decoding import (
    counted_tokens,
    is_system_body,
    message_tokens,
    messages_from_json,
    readable,
    stored_document,
)
from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
)
from conversation_store.models import (
    NO_FILTER,
    AppendResult,
    Conversation,
    ConversationKey,
    ConversationSummary,
    HeaderUpdate,
    ListFilter,
    Message,
    Page,
    SearchHit,
    ShareLink,
)
from conversation_store.stores.continuation import decode_continuation, encode_continuation
from conversation_store.stores.sqlite import indexing
from conversation_store.stores.sqlite import queries as sqlite_queries
from conversation_store.stores.sqlite.connections import Checkpointer, ThreadConnections
from conversation_store.stores.sqlite.group_commit import GroupCommit
from conversation_store.stores.sqlite.migrations import (
    SEQ_SPAN,
    apply_migrations,
    reclaim_space,
)
from conversation_store.stores.sqlite.queries import live
from conversation_store.stores.sqlite.rows import (
    HEADER_COLUMNS,
    MAX_CONVERSATION_NUMBER,
    append_position,
    checked_timestamp,
    expired,
    header_document,
    keyset,
    message_body,
    message_rows,
    new_header_columns,
    now,
    share_link_row,
    summary,
    updated_header_columns,
)
from conversation_store.tracking import mark_saved
from conversation_store.validation import external_id_not_found

_SCAN_PAGE_SIZE = 500
# What an append reads: whether the conversation is live, its number, the next sequence number.
_APPEND_TARGET = (
    "SELECT number, next_seq, updated_at, header_updated_at, ttl FROM conversations "
    "WHERE customer_id = ? AND id = ?"
)
_NUMBERING_UNUSABLE = "this file's conversation numbering is stored in a form that cannot be used"
# A conversation's messages, in order: one range of rowids (`migrations.SEQ_SPAN`).
_MESSAGES_OF = f"FROM messages WHERE rowid >= ?1 * {SEQ_SPAN} AND rowid < (?1 + 1) * {SEQ_SPAN}"
# Bodies are read as their UTF-8 bytes, so that a body stored as a BLOB by hand reads as the
# same text would (a load takes the same time either way).
_BODY = "CAST(body AS BLOB) AS body"


class SQLiteStore:
    """Conversations in a SQLite file; safe to share between the threads of a process."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 10_000,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        """`synchronous="FULL"` (the default) syncs the WAL on every commit, so an acknowledged
        write survives power loss or an OS crash; `"NORMAL"` syncs only at checkpoints, faster,
        but the last writes before such a crash may be lost (a process crash loses nothing).

        Raises InvalidInputError for another `synchronous`.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise InvalidInputError("synchronous must be 'FULL' or 'NORMAL'")
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._write_lock = threading.Lock()
        self._connections = ThreadConnections(
            self._path, name=f"SQLite store {self._path}", setup=self._prepare
        )
        with self._connections.session() as db:
            reclaim_space(db, apply_migrations(db))
        self._checkpointer = Checkpointer(self._path, setup=self._prepare)
        self._appends = GroupCommit(self._write)  # appends of several threads, one commit

    @property
    def path(self) -> Path:
        return self._path

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        columns = new_header_columns(conversation.to_document())
        key = ConversationKey(conversation.customer_id, conversation.id)
        rows = message_rows(conversation.messages)
        with self._write() as db:
            # An expired conversation is gone, so its id may be used again (as in Cosmos DB).
            # So is its external id (the unique index would refuse it otherwise).
            db.execute(
                "DELETE FROM conversations WHERE customer_id = ? AND (id = ? OR external_id = ?) "
                f"AND NOT {live('conversations')}",
                (*key, conversation.external_id, now()),
            )
            try:
                db.execute(
                    f"INSERT INTO conversations ({', '.join(columns)}, number) "
                    f"VALUES ({', '.join('?' * len(columns))}, ?)",
                    (*columns.values(), self._new_number(db)),
                )
            except sqlite3.IntegrityError as exc:
                if "conversations.number" in str(exc):
                    raise InvalidInputError(_NUMBERING_UNUSABLE) from exc
                taken = f"external id {conversation.external_id!r} is already in use"
                duplicate = f"conversation {conversation.id!r} already exists"
                raise ConflictError(taken if "external_id" in str(exc) else duplicate) from exc
            self._insert_messages(db, key, rows, touch=False)
            # Read back in the same transaction; an imported conversation may be born expired.
            return self._read(db, key, last=None, include_expired=True)

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        with self._connections.session() as db:
            db.execute("BEGIN")  # one snapshot for the header and its messages
            try:
                return self._read(db, key, last=last)
            finally:
                db.execute("COMMIT")

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        rows = message_rows(messages)  # before the write lock, which other threads wait for
        self._appends.run(lambda db: self._insert_messages(db, key, rows, touch=True))
        return AppendResult(
            conversation_id=key.conversation_id, message_ids=[m.id for m in messages if m.id]
        )

    def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        with self._write() as db:
            row = self._header_row(db, key)
            if etag is not None and etag != str(row["version"]):
                raise ConflictError(
                    f"conversation {key.conversation_id!r} changed since it was read"
                )
            columns = updated_header_columns(row["metadata"], update)
            assignments = ", ".join(f"{name} = ?" for name in columns)
            # `updated_at` (last activity, the listing order) stays.
            db.execute(
                f"UPDATE conversations SET {assignments}, header_updated_at = ?, "
                "version = version + 1 WHERE customer_id = ? AND id = ?",
                (*columns.values(), now(), *key),
            )

    def clear_messages(self, key: ConversationKey) -> None:
        with self._write() as db:
            self._emptied(db, key)

    def pop_messages(self, key: ConversationKey, n: int) -> list[Message]:
        with self._write() as db:
            number = self._header_row(db, key)["number"]
            rows = db.execute(
                f"SELECT rowid, {_BODY} {_MESSAGES_OF} ORDER BY rowid DESC LIMIT ?2", (number, n)
            ).fetchall()[::-1]
            if not rows:
                return []
            with readable(key):
                popped = messages_from_json([row["body"] for row in rows])
            db.executemany("DELETE FROM messages WHERE rowid = ?", [(r["rowid"],) for r in rows])
            db.execute(
                "UPDATE conversations SET message_count = max(0, message_count - ?), "
                "total_tokens = max(0, total_tokens - ?), updated_at = ?, version = version + 1 "
                "WHERE customer_id = ? AND id = ?",
                (len(popped), sum(counted_tokens(m.tokens) for m in popped), now(), *key),
            )
        return popped

    def replace_messages(self, key: ConversationKey, messages: Sequence[Message]) -> None:
        rows = message_rows(messages)
        with self._write() as db:
            self._emptied(db, key)
            self._insert_messages(db, key, rows, touch=True)

    def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        conditions, filter_params = sqlite_queries.filter_conditions(where)
        clauses = ["customer_id = ?", live("conversations"), *conditions]
        params: list[Any] = [customer_id, now(), *filter_params]
        if archived is not None:
            clauses.append("archived = ?")
            params.append(int(archived))
        if continuation is not None:
            clauses.append("(updated_at, id) < (?, ?)")
            position = decode_continuation(continuation, customer_id)
            params += keyset(where.unwrap(position, archived))
        with self._connections.session() as db:
            rows = db.execute(
                f"SELECT {HEADER_COLUMNS} FROM conversations WHERE {' AND '.join(clauses)} "
                "ORDER BY updated_at DESC, id DESC LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
        page = rows[:limit]
        token = (
            encode_continuation(
                customer_id, [page[-1]["updated_at"], page[-1]["id"], where.token_key(archived)]
            )
            if len(rows) > limit
            else None
        )
        return Page(items=[summary(row) for row in page], continuation=token)

    def get_conversation_by_external_id(
        self, customer_id: str, external_id: str, *, last: int | None = None
    ) -> Conversation:
        with self._connections.session() as db:
            db.execute("BEGIN")  # one snapshot for the lookup, the header and its messages
            try:
                found = db.execute(
                    "SELECT id FROM conversations WHERE customer_id = ? AND external_id = ? "
                    f"AND {live('conversations')}",
                    (customer_id, external_id, now()),
                ).fetchone()
                if found is None:
                    raise external_id_not_found(customer_id, external_id)
                return self._read(db, ConversationKey(customer_id, found["id"]), last=last)
            finally:
                db.execute("COMMIT")

    def delete_conversation(self, key: ConversationKey) -> None:
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE customer_id = ? AND id = ?", key)
            db.execute("DELETE FROM share_links WHERE customer_id = ? AND conversation_id = ?", key)

    def search_messages(self, customer_id: str, *, query: str, limit: int) -> list[SearchHit]:
        """The index first catches up with every message written before this call."""
        with self._connections.session() as db:
            stale = indexing.pending(db, customer_id)
        if stale:
            with self._write() as db:
                indexing.catch_up(db, customer_id)
        with self._connections.session() as db:
            return sqlite_queries.search_messages(
                db, customer_id=customer_id, query=query, limit=limit, now=now()
            )

    def replace_message(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        if message is not None and message.id != message_id:
            raise InvalidInputError(f"the message replacing {message_id!r} must keep its id")
        with self._write() as db:
            number = self._header_row(db, key)["number"]
            old_tokens = self._swap_message_row(db, key, number, message_id, message)
            new_tokens = counted_tokens(message.tokens) if message is not None else 0
            db.execute(
                "UPDATE conversations SET message_count = max(0, message_count - ?), "
                "total_tokens = max(0, total_tokens + ?), updated_at = ?, version = version + 1 "
                "WHERE customer_id = ? AND id = ?",
                (int(message is None), new_tokens - old_tokens, now(), *key),
            )

    def delete_customer(self, customer_id: str) -> int:
        with self._write() as db:
            # rowcount leaves out the messages removed by the cascade: it counts conversations.
            deleted: int = db.execute(
                "DELETE FROM conversations WHERE customer_id = ?", (customer_id,)
            ).rowcount
            db.execute("DELETE FROM share_links WHERE customer_id = ?", (customer_id,))
        return deleted

    def put_share_link(self, link: ShareLink) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO share_links "
                "(token_hash, customer_id, conversation_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                share_link_row(link),
            )

    def get_share_link(self, token_hash: str) -> ShareLink | None:
        with self._connections.session() as db:
            row = db.execute(
                "SELECT token_hash, customer_id, conversation_id, created_at, expires_at "
                "FROM share_links WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)",
                (token_hash, now()),
            ).fetchone()
        return None if row is None else ShareLink.model_validate(dict(row))

    def delete_share_link(self, token_hash: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM share_links WHERE token_hash = ?", (token_hash,))

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        """Reads a page of rows at a time, with no transaction open between pages, so a slow
        consumer never holds back writers; rows written meanwhile may or may not show."""
        where, params = ["(customer_id, id) > (?, ?)"], []
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if updated_before is not None:
            where.append("updated_at < ?")
            params.append(checked_timestamp(updated_before))
        return self._scan_pages(" AND ".join(where), params)

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        with self._connections.session() as db:
            return sqlite_queries.count_messages_by_day(db, customer_id=customer_id, now=now())

    def close(self) -> None:
        """Wait for the operations running in other threads, then close. Idempotent."""
        self._checkpointer.close()
        self._connections.close()

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        # No automatic checkpoints (one copies the WAL and syncs the database file in the
        # middle of an append): `connections.Checkpointer` does them, mostly on its thread.
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("PRAGMA foreign_keys = ON")
        sqlite_queries.register_functions(db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # One writer at a time in this process: the others wait on a lock that wakes them at
        # once, not in SQLite's busy handler, which sleeps and polls (up to 100 ms at a time).
        with self._write_lock, self._connections.session() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled it back already
                    db.execute("ROLLBACK")
                raise
            self._checkpointer.wrote(db)

    def _scan_pages(self, where: str, params: list[str]) -> Iterator[ConversationSummary]:
        """Pages in primary-key order; `where` starts with the keyset condition on `after`."""
        after = ("", "")
        while True:
            with self._connections.session() as db:
                rows = db.execute(
                    f"SELECT {HEADER_COLUMNS} FROM conversations WHERE {where} "
                    "ORDER BY customer_id, id LIMIT ?",
                    (*after, *params, _SCAN_PAGE_SIZE),
                ).fetchall()
            yield from (summary(row) for row in rows)
            if len(rows) < _SCAN_PAGE_SIZE:
                return
            after = (rows[-1]["customer_id"], rows[-1]["id"])

    def _read(
        self,
        db: sqlite3.Connection,
        key: ConversationKey,
        *,
        last: int | None,
        include_expired: bool = False,
    ) -> Conversation:
        """The conversation with all its messages or its `last` ones, read inside the caller's
        transaction. Raises ConversationNotFoundError."""
        row = self._header_row(db, key, include_expired=include_expired)
        cursor = db.cursor()
        cursor.row_factory = None  # plain tuples: the bodies are joined, not looked at
        if last is None:
            bodies = cursor.execute(
                f"SELECT {_BODY} {_MESSAGES_OF} ORDER BY rowid", (row["number"],)
            ).fetchall()
        else:
            bodies = cursor.execute(
                f"SELECT {_BODY} {_MESSAGES_OF} ORDER BY rowid DESC LIMIT ?2",
                (row["number"], last),
            ).fetchall()[::-1]
            bodies = self._pin_system_message(db, row, bodies)
        with readable(key):
            messages = messages_from_json(list(map(itemgetter(0), bodies)))
            document = {**header_document(row), "messages": messages}
            conversation = Conversation.model_validate(document)
        mark_saved(conversation, str(row["version"]))
        return conversation

    @staticmethod
    def _header_row(
        db: sqlite3.Connection, key: ConversationKey, *, include_expired: bool = False
    ) -> sqlite3.Row:
        """The conversation's header row; an expired conversation counts as missing unless
        `include_expired`. Raises ConversationNotFoundError."""
        row: sqlite3.Row | None = db.execute(
            f"SELECT number, {HEADER_COLUMNS} FROM conversations WHERE customer_id = ? AND id = ?",
            key,
        ).fetchone()
        if row is None or (expired(row) and not include_expired):
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        return row

    @staticmethod
    def _swap_message_row(
        db: sqlite3.Connection,
        key: ConversationKey,
        number: int,
        message_id: str,
        message: Message | None,
    ) -> int:
        """Overwrite the message's row in place (or delete it); returns its old token count.

        `number` is the conversation's (of `key`). Raises MessageNotFoundError.
        """
        old = db.execute(
            f"SELECT rowid, {_BODY} FROM messages WHERE conversation = ? AND id = ?",
            (number, message_id),
        ).fetchone()
        if old is None:
            raise MessageNotFoundError(key.conversation_id, key.customer_id, message_id)
        if message is None:
            db.execute("DELETE FROM messages WHERE rowid = ?", (old["rowid"],))
        else:
            db.execute(
                "UPDATE messages SET body = ? WHERE rowid = ?",
                (message_body(message), old["rowid"]),
            )
        return message_tokens(stored_document(old["body"]))

    @staticmethod
    def _pin_system_message(
        db: sqlite3.Connection, row: sqlite3.Row, bodies: list[tuple[bytes]]
    ) -> list[tuple[bytes]]:
        """Put a leading system message before a window that starts after it."""
        if len(bodies) >= row["message_count"]:
            return bodies
        first = db.execute(
            f"SELECT {_BODY} {_MESSAGES_OF} ORDER BY rowid LIMIT 1", (row["number"],)
        ).fetchone()
        if first is not None and is_system_body(first["body"]):
            return [(first["body"],), *bodies]
        return bodies

    @staticmethod
    def _new_number(db: sqlite3.Connection) -> int:
        """A conversation number never given before in this file (in the caller's write).

        Raises InvalidInputError when the counter was changed by hand past any use.
        """
        db.execute("UPDATE conversation_numbering SET last_number = last_number + 1")
        row = db.execute("SELECT last_number FROM conversation_numbering").fetchone()
        number = None if row is None else row[0]
        if type(number) is not int or not 1 <= number < MAX_CONVERSATION_NUMBER:
            raise InvalidInputError(_NUMBERING_UNUSABLE)
        return number

    def _emptied(self, db: sqlite3.Connection, key: ConversationKey) -> None:
        """Remove every message of the live conversation and zero its counters (in the
        caller's transaction). Raises ConversationNotFoundError."""
        number = self._header_row(db, key)["number"]
        db.execute(f"DELETE {_MESSAGES_OF}", (number,))
        db.execute(
            "UPDATE conversations SET message_count = 0, total_tokens = 0, updated_at = ?, "
            "version = version + 1 WHERE customer_id = ? AND id = ?",
            (now(), *key),
        )

    @staticmethod
    def _insert_messages(
        db: sqlite3.Connection,
        key: ConversationKey,
        messages: Sequence[tuple[Message, str]],
        *,
        touch: bool,
    ) -> None:
        """Insert the messages (each with its stored JSON) whose ids the conversation lacks, and
        count them in its row.

        Raises ConversationNotFoundError (checked here for an append, in the same statement
        that finds the next sequence number).
        """
        target = db.execute(_APPEND_TARGET, key).fetchone()
        if target is None or (touch and expired(target)):
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        number, next_seq = append_position(key, target)
        if next_seq + len(messages) > SEQ_SPAN:
            raise ConflictError(
                f"conversation {key.conversation_id!r} holds as many messages as it can"
            )
        added: list[Message] = []
        for message, body in messages:
            # Skipped when the conversation has a message of this id; any other clash raises.
            cursor = db.execute(
                "INSERT INTO messages (rowid, conversation, body) VALUES (?, ?, ?) "
                "ON CONFLICT (conversation, id) DO NOTHING",
                (number * SEQ_SPAN + next_seq, number, body),
            )
            if cursor.rowcount:
                added.append(message)
                next_seq += 1
        if added or not touch:
            db.execute(
                "UPDATE conversations SET next_seq = ?, message_count = message_count + ?, "
                "total_tokens = total_tokens + ?, version = version + ?"
                + (", updated_at = ?" if touch else "")
                + " WHERE customer_id = ? AND id = ?",
                (
                    next_seq,
                    len(added),
                    sum(counted_tokens(m.tokens) for m in added),
                    1 if touch else 0,
                    *([now()] if touch else []),
                    *key,
                ),
            )
