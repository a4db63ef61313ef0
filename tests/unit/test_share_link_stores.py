"""Share-link records on the embedded stores (memory, SQLite, and their async twins): a point
lookup by token hash, expired links never returned, revoked links gone, and no link outliving
the conversation or customer it shares."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from conversation_store import aio
from conversation_store.models import Conversation, ConversationKey, ShareLink, utc_now
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.sqlite.migrations import MIGRATIONS
from conversation_store.stores.sqlite.store import SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SQLiteStore]:
    opened = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "c.db")
    yield opened
    opened.close()


def _link(token_hash: str, conversation_id: str = "c_1", **fields: object) -> ShareLink:
    return ShareLink.model_validate(
        {
            "token_hash": token_hash,
            "customer_id": "alice",
            "conversation_id": conversation_id,
            **fields,
        }
    )


def _conversation(store: MemoryStore | SQLiteStore, conversation_id: str, customer: str) -> None:
    store.create_conversation(Conversation(id=conversation_id, customer_id=customer))


def test_a_link_is_found_by_its_hash_until_revoked(store: MemoryStore | SQLiteStore) -> None:
    link = _link("a" * 64, expires_at=utc_now() + timedelta(days=1))
    store.put_share_link(link)

    assert store.get_share_link(link.token_hash) == link
    assert store.get_share_link("b" * 64) is None
    store.delete_share_link(link.token_hash)
    store.delete_share_link(link.token_hash)  # already gone: still fine
    assert store.get_share_link(link.token_hash) is None


def test_an_expired_link_is_never_returned(store: MemoryStore | SQLiteStore) -> None:
    store.put_share_link(_link("old", expires_at=utc_now() - timedelta(seconds=1)))
    store.put_share_link(_link("new", expires_at=utc_now() + timedelta(hours=1)))
    store.put_share_link(_link("forever"))

    assert store.get_share_link("old") is None
    assert store.get_share_link("new") is not None
    assert store.get_share_link("forever") is not None


def test_deleting_a_conversation_or_a_customer_deletes_its_links(
    store: MemoryStore | SQLiteStore,
) -> None:
    for conversation_id in ("c_1", "c_2"):
        _conversation(store, conversation_id, "alice")
        store.put_share_link(_link(f"h_{conversation_id}", conversation_id))
    _conversation(store, "c_1", "bob")
    store.put_share_link(ShareLink(token_hash="h_bob", customer_id="bob", conversation_id="c_1"))

    store.delete_conversation(ConversationKey("alice", "c_1"))
    assert store.get_share_link("h_c_1") is None
    assert store.get_share_link("h_c_2") is not None
    store.delete_customer("alice")
    assert store.get_share_link("h_c_2") is None
    assert store.get_share_link("h_bob") is not None


def test_sqlite_resolves_a_link_by_primary_key_and_migration_003_upgrades_a_002_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    with sqlite3.connect(path) as db:  # a file as the release before share links left it
        for _, migrate in MIGRATIONS[:2]:
            migrate(db)
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        db.executemany(
            "INSERT INTO _migrations VALUES (?, '2025-01-24T10:30:00.000000Z')",
            [(name,) for name, _ in MIGRATIONS[:2]],
        )
    db.close()

    with SQLiteStore(path) as store:
        link = _link("h")
        store.put_share_link(link)
        assert store.get_share_link("h") == link
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM share_links WHERE token_hash = ?", ("h",)
        ).fetchall()
    db.close()
    assert "USING PRIMARY KEY" in plan[0][-1]


def test_the_async_embedded_stores_keep_links_like_their_sync_stores(tmp_path: Path) -> None:
    async def scenario(store: aio.SQLiteStore | aio.MemoryStore) -> list[bool]:
        async with store:
            link = _link("h")
            await store.put_share_link(link)
            found = await store.get_share_link("h")
            await store.delete_share_link("h")
            return [found == link, await store.get_share_link("h") is None]

    assert asyncio.run(scenario(aio.MemoryStore())) == [True, True]
    assert asyncio.run(scenario(aio.SQLiteStore(tmp_path / "c.db"))) == [True, True]
