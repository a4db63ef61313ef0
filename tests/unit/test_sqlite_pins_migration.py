"""Migration 004 on a database written before pins and external ids: valid legacy values kept
in `extra` move into their columns; an external id two rows share stays where it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conversation_store import ConflictError, ConversationManager, SQLiteStore
from conversation_store.stores.sqlite.migrations import MIGRATIONS


def _old_database(path: Path, extras: dict[str, dict[str, object]]) -> None:
    """A database at migration 003 holding one conversation per entry of `extras`."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, migrate in MIGRATIONS:
        if name.startswith("004"):
            break
        migrate(db)
        db.execute("INSERT INTO _migrations VALUES (?, '2025-01-01T00:00:00.000000Z')", (name,))
    for conversation_id, extra in extras.items():
        db.execute(
            "INSERT INTO conversations (customer_id, id, extra, created_at, updated_at) "
            "VALUES ('alice', ?, ?, '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')",
            (conversation_id, json.dumps(extra)),
        )
    db.close()


def test_legacy_pins_and_external_ids_move_into_their_columns(tmp_path: Path) -> None:
    _old_database(
        tmp_path / "old.db",
        {
            "c_pinned": {"pinned": True, "external_id": "ext/1"},
            "c_odd": {"pinned": "yes", "external_id": 7},
            "c_twin_a": {"external_id": "twin"},
            "c_twin_b": {"external_id": "twin"},
        },
    )

    with ConversationManager(SQLiteStore(tmp_path / "old.db")) as manager:
        pinned = manager.load_conversation("c_pinned", "alice")
        odd = manager.load_conversation("c_odd", "alice")
        twin = manager.load_conversation("c_twin_a", "alice")
        found = manager.get_conversation_by_external_id("alice", "ext/1")
        duplicate = manager.create_conversation_document("alice", "s", external_id="ext/1")
        with pytest.raises(ConflictError):
            manager.save_conversation(duplicate)

    assert (pinned.pinned, pinned.external_id, found.id) == (True, "ext/1", "c_pinned")
    assert (odd.pinned, odd.external_id) == (False, None)  # refused values stay in `extra`
    assert twin.external_id is None  # shared by two rows: neither may hold it
    assert pinned.model_extra == {}
