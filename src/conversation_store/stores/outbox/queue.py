"""The durable local queue of writes that could not reach the primary store (sync I/O only).

One SQLite file, WAL with `synchronous=FULL`: an operation is on disk before the caller is
told "pending". Operations are replayed in `seq` order and removed only once applied, so a
crash at any point replays at most the one operation under way, and every operation is
idempotent (appends carry message ids; a create that finds the item merges into it).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from conversation_store.models import ConversationKey, format_timestamp, utc_now
from conversation_store.stores.sqlite.connections import ThreadConnections

Operation = Literal["create", "append", "update", "clear", "delete", "replace_message"]


@dataclass(frozen=True)
class QueuedWrite:
    seq: int
    customer_id: str
    conversation_id: str
    operation: Operation
    payload: dict[str, Any]

    @property
    def key(self) -> ConversationKey:
        return ConversationKey(self.customer_id, self.conversation_id)


class OutboxQueue:
    """Pending writes in arrival order; shared by the threads (and processes) using one file."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(
            self._path, name=f"local outbox {self._path}", setup=_prepare
        )
        for table in ("outbox", "parked"):
            self._run(
                f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "customer_id TEXT NOT NULL, conversation_id TEXT NOT NULL, "
                "operation TEXT NOT NULL, payload TEXT NOT NULL, queued_at TEXT NOT NULL, "
                "error TEXT)",
                (),
            )

    @property
    def path(self) -> Path:
        return self._path

    def put(self, key: ConversationKey, operation: Operation, payload: dict[str, Any]) -> None:
        """Durably queue one write (on disk when this returns)."""
        self._run(
            "INSERT INTO outbox (customer_id, conversation_id, operation, payload, queued_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                *key,
                operation,
                json.dumps(payload, ensure_ascii=False),
                format_timestamp(utc_now()),
            ),
        )

    def pending(
        self, customer_id: str | None = None, conversation_id: str | None = None
    ) -> list[QueuedWrite]:
        """Queued writes in order, optionally of one customer or one conversation."""
        where, params = [], []
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if conversation_id is not None:
            where.append("conversation_id = ?")
            params.append(conversation_id)
        sql = "SELECT seq, customer_id, conversation_id, operation, payload FROM outbox"
        rows = self._run(
            sql + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq",
            tuple(params),
        )
        return [
            QueuedWrite(seq, customer, conversation, operation, json.loads(payload))
            for seq, customer, conversation, operation, payload in rows
        ]

    def count(self) -> int:
        ((count,),) = self._run("SELECT COUNT(*) FROM outbox", ())
        return int(count)

    def remove(self, seq: int) -> None:
        self._run("DELETE FROM outbox WHERE seq = ?", (seq,))

    def drop_customer(self, customer_id: str) -> int:
        """Forget every queued write of `customer_id` (their data is being deleted)."""
        with self._connections.session() as db:
            dropped: int = db.execute(
                "DELETE FROM outbox WHERE customer_id = ?", (customer_id,)
            ).rowcount
        return dropped

    def park(self, seq: int, error: str) -> None:
        """Move a write the primary store refused for good out of the way, keeping it on disk."""
        with self._connections.session() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO parked (customer_id, conversation_id, operation, payload, "
                    "queued_at, error) SELECT customer_id, conversation_id, operation, payload, "
                    "queued_at, ? FROM outbox WHERE seq = ?",
                    (error, seq),
                )
                db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def parked_count(self) -> int:
        ((count,),) = self._run("SELECT COUNT(*) FROM parked", ())
        return int(count)

    def close(self) -> None:
        """Wait for the operations running in other threads, then close. Idempotent."""
        self._connections.close()

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """All rows of one statement, read before its connection is released."""
        with self._connections.session() as db:
            return db.execute(sql, params).fetchall()


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # durable before we say "pending"
