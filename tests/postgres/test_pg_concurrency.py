"""Concurrent writers on the real server: no lost update, no duplicate, migrations once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from conversation_store import ConversationManager
from conversation_store.models import ConversationKey
from conversation_store.stores.postgres.migrations import MIGRATIONS
from conversation_store.stores.postgres.store import PostgresStore

WRITERS = 8
APPENDS = 100


def test_eight_writers_append_one_hundred_each_and_exactly_800_are_stored(
    postgres_url: str,
) -> None:
    with PostgresStore(postgres_url, max_size=WRITERS) as store:
        manager = ConversationManager(store)
        conversation = manager.save_conversation(
            manager.create_conversation_document("alice", "s1")
        )

        def write(writer: int) -> None:
            for n in range(APPENDS):
                manager.append_message(conversation.id, "alice", "user", f"w{writer} n{n}")

        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(WRITERS)))
        stored = store.get_conversation(ConversationKey("alice", conversation.id))
    assert len(stored.messages) == stored.message_count == WRITERS * APPENDS
    assert len({m.id for m in stored.messages}) == WRITERS * APPENDS
    assert stored.total_tokens == sum(m.tokens or 0 for m in stored.messages)
    for writer in range(WRITERS):  # each writer's messages keep their order
        mine = [m.content for m in stored.messages if (m.content or "").startswith(f"w{writer} ")]
        assert mine == [f"w{writer} n{n}" for n in range(APPENDS)]


def test_stores_opening_together_apply_each_migration_once(postgres_url: str) -> None:
    def open_and_list(_: int) -> int:
        with PostgresStore(postgres_url) as store:
            return len(store.list_conversations("nobody", limit=5).items)

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(open_and_list, range(6))) == [0] * 6
    with psycopg.connect(postgres_url) as db:
        names = [row[0] for row in db.execute("SELECT name FROM _migrations")]
    assert sorted(names) == [name for name, _ in MIGRATIONS]
