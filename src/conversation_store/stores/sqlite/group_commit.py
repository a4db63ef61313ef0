"""Writes of several threads committed together: one transaction, one sync of the WAL.

At `synchronous=FULL` the sync at each commit is most of an append's time (docs/benchmarks.md).
Writers queue here. The one at the front of the queue opens a transaction, then runs every
write queued by then (up to `MAX_BATCH`), each in a savepoint of its own, and commits once.
No caller returns before that commit, so an acknowledged write is as durable as one committed
alone. A lone writer's batch is its own write, run with no savepoint.

A write that raises is rolled back to its savepoint and its caller gets the exception; the
others of the batch still commit. When the transaction itself fails (it cannot begin, its
commit fails, or SQLite rolls it back after a full disk or an I/O error), nothing of the
batch is stored and every caller raises: the leader the failure itself, each other caller a
StoreUnavailableError that names it (a StoreClosedError when the store was closed).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from conversation_store.exceptions import StoreClosedError, StoreUnavailableError

Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]
Work = Callable[[sqlite3.Connection], None]

# A leader runs the others' writes before its own call returns; this bounds that wait.
MAX_BATCH = 64


class _Write:
    __slots__ = ("done", "error", "work")

    def __init__(self, work: Work) -> None:
        self.work = work
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """Runs writes in the transactions `transaction()` opens, as many at once as are waiting."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._queue: list[_Write] = []  # the front one leads; only the leader removes any
        self._changed = threading.Condition()

    def run(self, work: Work) -> None:
        """Run `work(db)` in a transaction, maybe with other threads' writes, and return once
        that transaction is committed. Raises what `work` raised, or the transaction's
        failure."""
        write = _Write(work)
        with self._changed:
            self._queue.append(write)
            while not write.done and self._queue[0] is not write:
                self._changed.wait()
            leads = not write.done
        if leads:
            self._lead(write)
        if write.error is not None:
            raise write.error

    def _lead(self, leader: _Write) -> None:
        batch = [leader]
        try:
            with self._transaction() as db:
                with self._changed:  # the writes queued while the transaction began join it
                    batch = self._queue[:MAX_BATCH]
                _apply(db, batch)
        except BaseException as failure:
            for write in batch:
                if write.error is None:
                    write.error = failure if write is leader else _not_committed(failure)
        finally:
            with self._changed:
                del self._queue[: len(batch)]
                for write in batch:
                    write.done = True
                self._changed.notify_all()


def _apply(db: sqlite3.Connection, batch: list[_Write]) -> None:
    if len(batch) == 1:
        batch[0].work(db)  # its failure is the transaction's
        return
    for write in batch:
        db.execute("SAVEPOINT grouped_write")
        try:
            write.work(db)
        except Exception as exc:
            if not db.in_transaction:  # SQLite rolled the whole transaction back
                raise
            write.error = exc
            db.execute("ROLLBACK TO grouped_write")
        db.execute("RELEASE grouped_write")


def _not_committed(failure: BaseException) -> Exception:
    """What a caller whose write was in a failed batch raises."""
    error: Exception
    if isinstance(failure, StoreClosedError):
        error = StoreClosedError(str(failure))
    else:
        error = StoreUnavailableError(
            f"the write was not committed: {type(failure).__name__}: {failure}"
        )
    error.__cause__ = failure
    return error
