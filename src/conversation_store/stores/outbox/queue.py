"""The durable local queue of writes that could not reach the primary store (sync I/O only).

One SQLite file, WAL with `synchronous=FULL`: an operation is on disk before the caller is
told "pending". Operations are replayed in `seq` order and removed only once applied, so a
crash at any point replays at most the one operation under way, and every operation is
idempotent (appends carry message ids; a create that finds the item merges into it).

A write the primary refuses for good is parked: it stays in the same table, at its `seq`,
marked with the error and the time it was parked, and is skipped by the replay. An operator
lists and inspects parked writes, requeues one (it is pending again, in its original place in
the order) or drops it; the `conversation-store outbox` commands do exactly that.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import ConversationKey, format_timestamp, utc_now
from conversation_store.stores.sqlite.connections import ThreadConnections

Operation = Literal["create", "append", "update", "clear", "delete", "replace_message"]

_COLUMNS = "seq, customer_id, conversation_id, operation, payload, queued_at, error, parked_at"
_PENDING = "parked_at IS NULL"


@dataclass(frozen=True)
class QueuedWrite:
    """One write of the queue; `error` says why the primary refused it, when it is parked."""

    seq: int
    customer_id: str
    conversation_id: str
    operation: Operation
    payload: dict[str, Any]
    error: str | None = None

    @property
    def key(self) -> ConversationKey:
        return ConversationKey(self.customer_id, self.conversation_id)


@dataclass(frozen=True)
class ParkedWrite:
    """A write the primary refused for good, kept for an operator to requeue or drop."""

    seq: int
    customer_id: str
    conversation_id: str
    operation: Operation
    error: str
    queued_at: datetime
    parked_at: datetime
    payload: dict[str, Any]


class OutboxQueue:
    """Pending and parked writes in arrival order; shared by the threads (and processes) using
    one file."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(
            self._path, name=f"local outbox {self._path}", setup=_prepare
        )
        with self._connections.session() as db:
            _create_schema(db)

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
        """Writes waiting for replay, in order, optionally of one customer or one conversation."""
        where, params = [_PENDING], []
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if conversation_id is not None:
            where.append("conversation_id = ?")
            params.append(conversation_id)
        rows = self._run(
            f"SELECT {_COLUMNS} FROM outbox WHERE {' AND '.join(where)} ORDER BY seq",
            tuple(params),
        )
        return [_queued(row) for row in rows]

    def writes_of(self, key: ConversationKey) -> list[QueuedWrite]:
        """The conversation's pending and parked writes, in order (what its reads merge)."""
        rows = self._run(
            f"SELECT {_COLUMNS} FROM outbox WHERE customer_id = ? AND conversation_id = ? "
            "ORDER BY seq",
            tuple(key),
        )
        return [_queued(row) for row in rows]

    def count(self) -> int:
        """How many writes wait for replay (parked ones not counted)."""
        ((count,),) = self._run(f"SELECT COUNT(*) FROM outbox WHERE {_PENDING}", ())
        return int(count)

    def remove(self, seq: int) -> None:
        self._run("DELETE FROM outbox WHERE seq = ?", (seq,))

    def drop_customer(self, customer_id: str) -> int:
        """Forget every queued and parked write of `customer_id` (their data is being deleted)."""
        with self._connections.session() as db:
            dropped: int = db.execute(
                "DELETE FROM outbox WHERE customer_id = ?", (customer_id,)
            ).rowcount
        return dropped

    def park(self, seq: int, error: str) -> None:
        """Set aside a write the primary store refused for good, keeping it on disk."""
        self._run(
            f"UPDATE outbox SET error = ?, parked_at = ? WHERE seq = ? AND {_PENDING}",
            (error, format_timestamp(utc_now()), seq),
        )

    def parked(self) -> list[ParkedWrite]:
        """Every parked write, in order."""
        rows = self._run(f"SELECT {_COLUMNS} FROM outbox WHERE NOT {_PENDING} ORDER BY seq", ())
        return [_parked(row) for row in rows]

    def parked_write(self, seq: int) -> ParkedWrite:
        """The parked write `seq` with its payload. Raises InvalidInputError when no parked
        write has that number."""
        rows = self._run(f"SELECT {_COLUMNS} FROM outbox WHERE seq = ? AND NOT {_PENDING}", (seq,))
        if not rows:
            raise InvalidInputError(f"no parked write {seq}")
        return _parked(rows[0])

    def requeue(self, seq: int) -> None:
        """Make the parked write `seq` pending again, in its original place in the order.

        Raises InvalidInputError when no parked write has that number.
        """
        self._change_parked(
            "UPDATE outbox SET error = NULL, parked_at = NULL WHERE seq = ? AND NOT " + _PENDING,
            seq,
        )

    def drop(self, seq: int) -> None:
        """Delete the parked write `seq` for good (a pending write cannot be dropped).

        Raises InvalidInputError when no parked write has that number.
        """
        self._change_parked(f"DELETE FROM outbox WHERE seq = ? AND NOT {_PENDING}", seq)

    def parked_count(self) -> int:
        ((count,),) = self._run(f"SELECT COUNT(*) FROM outbox WHERE NOT {_PENDING}", ())
        return int(count)

    def close(self) -> None:
        """Wait for the operations running in other threads, then close. Idempotent."""
        self._connections.close()

    def _change_parked(self, sql: str, seq: int) -> None:
        with self._connections.session() as db:
            changed: int = db.execute(sql, (seq,)).rowcount
        if not changed:
            raise InvalidInputError(f"no parked write {seq}")

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """All rows of one statement, read before its connection is released."""
        with self._connections.session() as db:
            return db.execute(sql, params).fetchall()


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # durable before we say "pending"


def _create_schema(db: sqlite3.Connection) -> None:
    """Create the table, or bring an older file up to date, in one transaction.

    Older files kept parked writes in a table of their own, numbered apart from the queue:
    they join the queue at its end, parked still (their original place is not known).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "customer_id TEXT NOT NULL, conversation_id TEXT NOT NULL, "
            "operation TEXT NOT NULL, payload TEXT NOT NULL, queued_at TEXT NOT NULL, "
            "error TEXT, parked_at TEXT)"
        )
        columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        if "parked_at" not in columns:
            db.execute("ALTER TABLE outbox ADD COLUMN parked_at TEXT")
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'parked'").fetchone():
            db.execute(
                "INSERT INTO outbox (customer_id, conversation_id, operation, payload, "
                "queued_at, error, parked_at) SELECT customer_id, conversation_id, operation, "
                "payload, queued_at, COALESCE(error, 'parked'), ? FROM parked ORDER BY seq",
                (format_timestamp(utc_now()),),
            )
            db.execute("DROP TABLE parked")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _queued(row: tuple[Any, ...]) -> QueuedWrite:
    seq, customer, conversation, operation, payload, _, error, _ = row
    return QueuedWrite(seq, customer, conversation, operation, json.loads(payload), error)


def _parked(row: tuple[Any, ...]) -> ParkedWrite:
    seq, customer, conversation, operation, payload, queued_at, error, parked_at = row
    return ParkedWrite(
        seq=seq,
        customer_id=customer,
        conversation_id=conversation,
        operation=operation,
        error=error,
        queued_at=datetime.fromisoformat(queued_at),
        parked_at=datetime.fromisoformat(parked_at),
        payload=json.loads(payload),
    )
