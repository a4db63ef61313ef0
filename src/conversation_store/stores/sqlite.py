"""The embedded store: one SQLite file, WAL, one connection per thread.

Messages are rows (not one JSON blob), so an append writes one row whatever the length of
the conversation. Every write is one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    StoreClosedError,
    StoreUnavailableError,
)
from ..models import (
    HEADER_FIELDS,
    AppendResult,
    Conversation,
    ConversationSummary,
    Message,
    Page,
    format_timestamp,
    utc_now,
)
from ..tracking import mark_saved
from .continuation import decode_continuation, encode_continuation
from .protocol import HeaderUpdate
from .sqlite_migrations import apply_migrations

_SUMMARY_COLUMNS = (
    "id, customer_id, session_id, title, persona, org_id, metadata, extra, "
    "created_at, updated_at, message_count, total_tokens, version"
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


class SQLiteStore:
    """Conversations in a SQLite file; safe to share between the threads of a process."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        with self._translate_errors():
            apply_migrations(self._connection())

    @property
    def path(self) -> Path:
        return self._path

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        doc = conversation.to_document()
        with self._write() as db:
            try:
                db.execute(
                    f"INSERT INTO conversations ({_SUMMARY_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 1)",
                    (
                        doc["id"],
                        doc["customer_id"],
                        doc["session_id"],
                        doc["title"],
                        doc["persona"],
                        doc["org_id"],
                        json.dumps(doc["metadata"]),
                        json.dumps(_extra_fields(doc)),
                        doc["created_at"],
                        doc["updated_at"],
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"conversation {conversation.id!r} already exists") from exc
            self._insert_messages(
                db, conversation.customer_id, conversation.id, conversation.messages, touch=False
            )
        return self.get_conversation(
            customer_id=conversation.customer_id, conversation_id=conversation.id
        )

    def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        with self._translate_errors():
            db = self._connection()
            db.execute("BEGIN")  # one snapshot for the header and its messages
            try:
                row = self._header_row(db, customer_id, conversation_id)
                if last is None:
                    bodies = db.execute(
                        "SELECT body FROM messages WHERE customer_id = ? AND conversation_id = ? "
                        "ORDER BY seq",
                        (customer_id, conversation_id),
                    ).fetchall()
                else:
                    bodies = db.execute(
                        "SELECT body FROM messages WHERE customer_id = ? AND conversation_id = ? "
                        "ORDER BY seq DESC LIMIT ?",
                        (customer_id, conversation_id, last),
                    ).fetchall()[::-1]
                    bodies = self._pin_system_message(db, row, bodies)
            finally:
                db.execute("COMMIT")
        data = _header_document(row)
        data["messages"] = [json.loads(body) for (body,) in bodies]
        conversation = Conversation.model_validate(data)
        mark_saved(conversation, str(row["version"]))
        return conversation

    def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        with self._write() as db:
            self._header_row(db, customer_id, conversation_id)
            self._insert_messages(db, customer_id, conversation_id, messages, touch=True)
        return AppendResult(
            conversation_id=conversation_id, message_ids=[m.id for m in messages if m.id]
        )

    def update_conversation(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        update: HeaderUpdate,
        etag: str | None = None,
    ) -> None:
        with self._write() as db:
            row = self._header_row(db, customer_id, conversation_id)
            if etag is not None and etag != str(row["version"]):
                raise ConflictError(f"conversation {conversation_id!r} changed since it was read")
            metadata = {**json.loads(row["metadata"]), **update.metadata_set}
            for key in update.metadata_removed:
                metadata.pop(key, None)
            assignments = [f"{name} = ?" for name in update.fields]
            db.execute(
                f"UPDATE conversations SET {', '.join([*assignments, 'metadata = ?'])}, "
                "updated_at = ?, version = version + 1 WHERE customer_id = ? AND id = ?",
                (
                    *update.fields.values(),
                    json.dumps(metadata),
                    format_timestamp(utc_now()),
                    customer_id,
                    conversation_id,
                ),
            )

    def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        with self._write() as db:
            self._header_row(db, customer_id, conversation_id)
            db.execute(
                "DELETE FROM messages WHERE customer_id = ? AND conversation_id = ?",
                (customer_id, conversation_id),
            )
            db.execute(
                "UPDATE conversations SET message_count = 0, total_tokens = 0, updated_at = ?, "
                "version = version + 1 WHERE customer_id = ? AND id = ?",
                (format_timestamp(utc_now()), customer_id, conversation_id),
            )

    def list_conversations(
        self, *, customer_id: str, limit: int, continuation: str | None = None
    ) -> Page[ConversationSummary]:
        where, params = "customer_id = ?", [customer_id]
        if continuation is not None:
            updated_at, last_id = _keyset(decode_continuation(continuation, customer_id))
            where += " AND (updated_at, id) < (?, ?)"
            params += [updated_at, last_id]
        with self._translate_errors():
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE {where} "
                    "ORDER BY updated_at DESC, id DESC LIMIT ?",
                    (*params, limit + 1),
                )
                .fetchall()
            )
        page = rows[:limit]
        items = [ConversationSummary.model_validate(_header_document(r)) for r in page]
        token = (
            encode_continuation(customer_id, [page[-1]["updated_at"], page[-1]["id"]])
            if len(rows) > limit
            else None
        )
        return Page(items=items, continuation=token)

    def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM conversations WHERE customer_id = ? AND id = ?",
                (customer_id, conversation_id),
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for db in self._connections:
                db.close()
            self._connections.clear()

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosedError(f"SQLiteStore({self._path}) is closed")
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so close() may close it; each thread uses its own.
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            with self._lock:
                self._connections.append(db)
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._translate_errors():
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"SQLite store {self._path}: {exc}") from exc

    @staticmethod
    def _header_row(db: sqlite3.Connection, customer_id: str, conversation_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE customer_id = ? AND id = ?",
            (customer_id, conversation_id),
        ).fetchone()
        if row is None:
            raise ConversationNotFoundError(conversation_id, customer_id)
        return row

    @staticmethod
    def _pin_system_message(
        db: sqlite3.Connection, row: sqlite3.Row, bodies: list[sqlite3.Row]
    ) -> list[sqlite3.Row]:
        """Put a leading system message before a window that starts after it."""
        if len(bodies) >= row["message_count"]:
            return bodies
        first = db.execute(
            "SELECT body FROM messages WHERE customer_id = ? AND conversation_id = ? "
            "ORDER BY seq LIMIT 1",
            (row["customer_id"], row["id"]),
        ).fetchone()
        if first is not None and json.loads(first["body"]).get("role") == "system":
            return [first, *bodies]
        return bodies

    @staticmethod
    def _insert_messages(
        db: sqlite3.Connection,
        customer_id: str,
        conversation_id: str,
        messages: Sequence[Message],
        *,
        touch: bool,
    ) -> None:
        (next_seq,) = db.execute(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM messages "
            "WHERE customer_id = ? AND conversation_id = ?",
            (customer_id, conversation_id),
        ).fetchone()
        added: list[Message] = []
        for message in messages:
            cursor = db.execute(
                "INSERT OR IGNORE INTO messages (customer_id, conversation_id, seq, id, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    customer_id,
                    conversation_id,
                    next_seq,
                    message.id,
                    json.dumps(message.model_dump(mode="json"), ensure_ascii=False),
                ),
            )
            if cursor.rowcount:
                added.append(message)
                next_seq += 1
        if added or not touch:
            db.execute(
                "UPDATE conversations SET message_count = message_count + ?, "
                "total_tokens = total_tokens + ?, version = version + ?"
                + (", updated_at = ?" if touch else "")
                + " WHERE customer_id = ? AND id = ?",
                (
                    len(added),
                    sum(m.tokens or 0 for m in added),
                    1 if touch else 0,
                    *([format_timestamp(utc_now())] if touch else []),
                    customer_id,
                    conversation_id,
                ),
            )


def _keyset(position: list[str]) -> tuple[str, str]:
    if len(position) != 2:
        raise InvalidInputError("continuation token is malformed")
    return position[0], position[1]


def _extra_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _KNOWN_FIELDS}


def _header_document(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data.update(json.loads(data.pop("extra")))
    data["metadata"] = json.loads(data["metadata"])
    data.pop("version")
    return data
