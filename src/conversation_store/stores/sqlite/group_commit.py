"""Writes of several threads committed together: one transaction, one sync of the WAL.

At `synchronous=FULL` the sync at each commit is most of an append's time (docs/benchmarks.md).
Writers queue here. When no batch is running, one of them opens a transaction, then runs
the writes queued by then, oldest first (`MAX_BATCH`, or up to its own), each in a savepoint,
and commits once. No caller returns before that commit, so an acknowledged write is as
durable as one committed alone. A lone writer's batch is its own write, run with no savepoint.

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

# A leader runs the others' writes before its own call returns; this bounds that wait
# (a leader further back in the queue also runs the writes ahead of its own).
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
        self._queue: list[_Write] = []  # oldest first; only a leader removes what it ran
        self._leading = False  # a thread is running a batch
        self._taken = 0  # the batch it runs: the first `_taken` writes of the queue
        self._changed = threading.Condition()

    def run(self, work: Work) -> None:
        """Run `work(db)` in a transaction, maybe with other threads' writes, and return once
        that transaction is committed. Raises what `work` raised, or the transaction's
        failure."""
        write = _Write(work)
        with self._changed:
            self._queue.append(write)
        self._wait_or_lead(write)
        if write.error is not None:
            raise write.error

    def _wait_or_lead(self, write: _Write) -> None:
        """Wait until `write` is done or nobody leads; in the second case lead a batch, which
        runs `write` with the writes queued before it.

        Whatever interrupts the caller (KeyboardInterrupt, say), nobody is left waiting for a
        leader that is gone, and no write is left that nobody would run or remove: a waiting
        write that no batch has taken is withdrawn; one a batch has taken is run, and removed,
        by that batch's leader.
        """
        leading = False
        try:
            with self._changed:
                while not write.done and self._leading:
                    self._changed.wait()
                if write.done:
                    return
                leading = True  # set first: then an interrupt can only release a free lead
                self._leading = True
            self._lead(write)
        except BaseException:
            if not leading:
                with self._changed:
                    if not write.done and write not in self._queue[: self._taken]:
                        self._queue.remove(write)
            raise
        finally:
            if leading:
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()

    def _lead(self, leader: _Write) -> None:
        batch: list[_Write] = []
        try:
            with self._transaction() as db:
                with self._changed:  # the writes queued while the transaction began join it
                    # Always up to the leader's own, so that its failure reaches this thread.
                    size = max(MAX_BATCH, self._queue.index(leader) + 1)
                    batch = self._queue[:size]
                    self._taken = len(batch)
                _apply(db, batch)
        except BaseException as failure:
            if not batch:  # the transaction never began: only the leader's write fails
                batch = [leader]
                with self._changed:
                    self._queue.remove(leader)
            for write in batch:
                if write.error is None:
                    write.error = failure if write is leader else _not_committed(failure)
        finally:
            with self._changed:
                del self._queue[: self._taken]
                self._taken = 0
                for write in batch:
                    write.done = True


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
