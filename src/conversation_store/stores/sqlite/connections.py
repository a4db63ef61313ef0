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
