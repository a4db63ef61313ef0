"""One SQLite connection per thread, and a close() that never cuts a statement off.

Closing a connection while another thread runs a statement on it crashes the interpreter, so
every use of a connection is a counted `session()`, and `close()` refuses new sessions, waits
for the running ones, and only then closes the connections.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conversation_store.exceptions import StoreClosedError, StoreUnavailableError


class ThreadConnections:
    """Connections to one SQLite file, one per thread, each prepared by `setup`."""

    def __init__(
        self, path: Path, *, name: str, setup: Callable[[sqlite3.Connection], None]
    ) -> None:
        self._path = path
        self._name = name
        self._setup = setup
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Condition()
        self._running = 0
        self._closed = False

    @contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for one operation; finish with its rows before leaving.

        Raises StoreClosedError, and StoreUnavailableError for SQLite's operational errors
        (a locked or unreadable file).
        """
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"{self._name} is closed")
            self._running += 1
        try:
            yield self._connection()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"{self._name}: {exc}") from exc
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def close(self) -> None:
        """Refuse new sessions, wait for the running ones, close every connection. Idempotent."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(lambda: self._running == 0)
            for db in self._connections:
                db.close()
            self._connections.clear()

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so close() may close it; each thread uses its own.
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._setup(db)
            with self._lock:
                self._connections.append(db)
            self._local.db = db
        return db


class Checkpointer:
    """WAL checkpoints mostly off the write path, so that appends do not stall on them.

    The store's connections turn automatic checkpoints off. Every `WRITES_BETWEEN` writes,
    `wrote()` wakes this thread, which copies the WAL into the database without blocking
    anyone (`PRAGMA wal_checkpoint(PASSIVE)`), the bulk of the work and a sync of the file.
    A writer cannot start the WAL over while it grows, and a steady writer always has a
    transaction open when the thread finishes; so after each pass of the thread, the next
    writer copies the few frames written meanwhile itself, and its next write starts the WAL
    over: the file stays small and is overwritten, never grown. The last connection to close
    checkpoints the rest, as SQLite does.
    """

    WRITES_BETWEEN = 200

    def __init__(self, path: Path, *, setup: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._setup = setup
        self._writes = 0
        self._wake = threading.Event()
        self._caught_up = threading.Event()  # a pass of the thread ended since the writer's
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # started at the first checkpoint due
        self._closed = False

    def wrote(self, db: sqlite3.Connection) -> None:
        """After a committed write on `db`, in the writer's thread (a racy count only paces)."""
        if self._caught_up.is_set():
            self._caught_up.clear()
            _passive_checkpoint(db)
        self._writes += 1
        if self._writes < self.WRITES_BETWEEN:
            return
        self._writes = 0
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name=f"checkpoints of {self._path.name}", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread after its current checkpoint. Idempotent."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            self._setup(db)
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                _passive_checkpoint(db)
                self._caught_up.set()
        finally:
            db.close()


def _passive_checkpoint(db: sqlite3.Connection) -> None:
    """Copy what can be copied now; a busy or failing checkpoint is left to the next one."""
    try:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        return
