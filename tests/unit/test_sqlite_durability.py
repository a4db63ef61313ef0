"""SQLite durability: every connection the store opens runs at the `synchronous` it was given
(FULL by default: an acknowledged append survives power loss), and a process killed right
after an acknowledged append loses nothing.

Power loss cannot be tested here; the pragma on every connection is what makes it hold.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversation_store import InvalidInputError, SQLiteStore
from conversation_store.models import Conversation, ConversationKey, Message
from conversation_store.stores.sqlite import connections

_LEVELS = {"FULL": 2, "NORMAL": 1}


def _recording_connect(opened: list[sqlite3.Connection]) -> Any:
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        opened.append(db)
        return db

    return connect


@pytest.mark.parametrize("synchronous", [None, "FULL", "NORMAL"])
def test_every_connection_runs_at_the_given_synchronous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str | None
) -> None:
    opened: list[sqlite3.Connection] = []
    monkeypatch.setattr(connections.sqlite3, "connect", _recording_connect(opened))
    options: dict[str, Any] = {} if synchronous is None else {"synchronous": synchronous}
    store = SQLiteStore(tmp_path / "d.db", **options)
    key = ConversationKey("alice", "c_1")
    store.create_conversation(Conversation(id="c_1", customer_id="alice"))

    def append_some(offset: int) -> None:
        for n in range(connections.Checkpointer.WRITES_BETWEEN):
            store.append_messages(key, [Message(id=f"m_{offset}_{n}", role="user", content="x")])

    threads = [threading.Thread(target=append_some, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.search_messages("alice", query="x", limit=1)
    levels = {db.execute("PRAGMA synchronous").fetchone()[0] for db in opened}
    autocheckpoints = {db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] for db in opened}
    store.close()
    assert len(opened) >= 4  # the opening thread's, two writers', the checkpointer's
    assert levels == {_LEVELS[synchronous or "FULL"]}
    assert autocheckpoints == {0}


@given(st.text(max_size=10).filter(lambda s: s not in _LEVELS))
def test_another_synchronous_is_invalid_input(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    path = tmp_path_factory.mktemp("sync") / "d.db"
    with pytest.raises(InvalidInputError):
        SQLiteStore(path, synchronous=value)  # type: ignore[arg-type]
    assert not path.exists()


_WRITER = """
import sys
from conversation_store import SQLiteStore
from conversation_store.models import Conversation, ConversationKey, Message
store = SQLiteStore(sys.argv[1])
store.create_conversation(Conversation(id="c_1", customer_id="alice"))
key = ConversationKey("alice", "c_1")
n = 0
while True:
    store.append_messages(key, [Message(id=f"m_{n}", role="user", content="kept " * 40)])
    print(n, flush=True)  # acknowledged
    n += 1
"""


def test_a_kill_right_after_acknowledged_appends_loses_none_of_them(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert writer.stdout is not None
    acknowledged = -1
    try:
        # Past a few checkpoints of the checkpointer, so the kill may land in one.
        while acknowledged < 3 * connections.Checkpointer.WRITES_BETWEEN:
            acknowledged = int(writer.stdout.readline())
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    with SQLiteStore(path) as store:
        loaded = store.get_conversation(ConversationKey("alice", "c_1"))
    ids = [m.id for m in loaded.messages]
    assert ids[: acknowledged + 1] == [f"m_{n}" for n in range(acknowledged + 1)]
    assert loaded.message_count == len(ids)
