"""SQLite specifics of issue 6: migration 002 on real files, the FTS5 index and its triggers,
header columns, TTL filtering, scans and day counts.

Expiry is tested with conversations whose stored `updated_at` lies in the past, never by
waiting.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conversation_store import aio
from conversation_store.exceptions import (
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
)
from conversation_store.models import Conversation, ConversationKey, HeaderUpdate, Message
from conversation_store.search import matches, search_terms
from conversation_store.stores.continuation import encode_continuation
from conversation_store.stores.sqlite import indexing
from conversation_store.stores.sqlite import migrations as sqlite_migrations
from conversation_store.stores.sqlite import store as sqlite_module
from conversation_store.stores.sqlite.queries import fts_query
from conversation_store.stores.sqlite.store import SQLiteStore

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "c.db") as opened:
        yield opened


def _conversation(
    conversation_id: str,
    *contents: str,
    customer_id: str = "alice",
    updated_at: datetime | None = None,
    **fields: object,
) -> Conversation:
    messages = [
        Message(id=f"m_{conversation_id}_{n}", role="user", content=text, tokens=len(text))
        for n, text in enumerate(contents)
    ]
    return Conversation.model_validate(
        {
            "id": conversation_id,
            "customer_id": customer_id,
            "messages": messages,
            **({"updated_at": updated_at} if updated_at else {}),
            **fields,
        }
    )


def _found(store: SQLiteStore, query: str, customer_id: str = "alice") -> list[str | None]:
    return [hit.message_id for hit in store.search_messages(customer_id, query=query, limit=50)]


def _index_hits(path: Path, word: str) -> int:
    """Rows the FTS5 index itself holds for `word`: stale entries would show here. The index
    first catches up, as before every search (appends leave it behind)."""
    with sqlite3.connect(path) as db:
        indexing.catch_up(db)
        (count,) = db.execute(
            "SELECT COUNT(*) FROM messages_search WHERE messages_search MATCH ?", (f'"{word}"',)
        ).fetchone()
        db.execute(
            "INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)"
        )
    return int(count)


# -- migration 002 -----------------------------------------------------------------------------


def _database_at_migration_001(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as the store wrote it before issue 6, holding two conversations."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_migrations, "MIGRATIONS", sqlite_migrations.MIGRATIONS[:1])
        db = sqlite3.connect(path, isolation_level=None)
        assert sqlite_migrations.apply_migrations(db) == ["001_conversations_and_messages"]
    legacy_extra = {"summary": "Planning", "archived": True, "ttl": "soon", "source": "voicebot"}
    for customer, conversation_id, extra in (
        ("alice", "c_trip", legacy_extra),
        ("bob", "c_other", {}),
    ):
        db.execute(
            "INSERT INTO conversations (customer_id, id, title, metadata, extra, created_at, "
            "updated_at, message_count, total_tokens) VALUES (?, ?, 'Trip', '{}', ?, "
            "'2025-01-24T10:30:00.000000Z', '2025-01-24T10:35:00.000000Z', 2, 0)",
            (customer, conversation_id, json.dumps(extra)),
        )
        for seq, (message_id, content) in enumerate(
            (("m_1", "Trip to Tokyo in the spring"), ("m_2", "Kyōto is close to Tokyo"))
        ):
            body = {
                "id": message_id,
                "role": "user",
                "content": content,
                "timestamp": "2025-01-24T10:30:00.000000Z",
                "metadata": {},
            }
            db.execute(
                "INSERT INTO messages (customer_id, conversation_id, seq, id, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (customer, conversation_id, seq, message_id, json.dumps(body)),
            )
    db.close()


def test_migration_002_makes_an_existing_001_database_searchable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    _database_at_migration_001(path, monkeypatch)

    with SQLiteStore(path) as store:
        assert set(_found(store, "tok")) == {"m_1", "m_2"}
        assert _found(store, "kyō") == ["m_2"]
        assert set(_found(store, "tokyo", customer_id="bob")) == {"m_1", "m_2"}
        loaded = store.get_conversation(ConversationKey("alice", "c_trip"))
        assert [m.id for m in loaded.messages] == ["m_1", "m_2"]
        store.append_messages(
            ConversationKey("alice", "c_trip"),
            [
                Message(id="m_2", role="user", content="a retried append"),
                Message(id="m_3", role="user", content="Osaka next"),
            ],
        )
        assert _found(store, "osaka") == ["m_3"]
    assert _index_hits(path, "tokyo") == 4
    with sqlite3.connect(path) as db:
        names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in sqlite_migrations.MIGRATIONS]


def test_migration_002_moves_legacy_header_values_into_their_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    _database_at_migration_001(path, monkeypatch)

    with SQLiteStore(path) as store:
        loaded = store.get_conversation(ConversationKey("alice", "c_trip"))
        assert (loaded.summary, loaded.archived, loaded.ttl) == ("Planning", True, None)
        assert loaded.model_extra == {"source": "voicebot"}
        store.update_conversation(
            ConversationKey("alice", "c_trip"),
            HeaderUpdate(fields={"summary": "Booked", "archived": False}),
        )
        reloaded = store.get_conversation(ConversationKey("alice", "c_trip"))
        assert (reloaded.summary, reloaded.archived) == ("Booked", False)
    with sqlite3.connect(path) as db:
        (extra,) = db.execute("SELECT extra FROM conversations WHERE id = 'c_trip'").fetchone()
    # A value the ttl column cannot hold is kept where it was, not dropped.
    assert json.loads(extra) == {"ttl": "soon", "source": "voicebot"}


def test_search_survives_vacuum_which_renumbers_implicit_rowids(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.create_conversation(_conversation("c_a", "alpha one", "beta two", "gamma three"))
        store.replace_message(ConversationKey("alice", "c_a"), "m_c_a_0", None)
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute("VACUUM")
        assert _found(store, "gamma") == ["m_c_a_2"]
        assert _found(store, "alpha") == []
    assert _index_hits(path, "beta") == 1


# -- search -----------------------------------------------------------------------------------


def test_fts_query_quotes_every_term_as_a_prefix() -> None:
    assert fts_query(["tok", "kyo"]) == '"tok"* "kyo"*'
    assert fts_query(['a"b']) == '"a""b"*'


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"tokyo', {0, 1, 2, 3}),
        ('tokyo"', {0, 1, 2, 3}),
        ("tok*", {0, 1, 2, 3}),
        ("NEAR(tokyo osaka)", {1}),
        ("tokyo OR kyoto", {2}),
        ("-trip", {0}),
        ("content:tokyo", {3}),
        ("tokyo AND", {2}),
        ("^tok", {0, 1, 2, 3}),
        ("(", set()),
    ],
)
def test_query_syntax_is_searched_as_plain_words(
    store: SQLiteStore, query: str, expected: set[int]
) -> None:
    store.create_conversation(
        _conversation(
            "c_s", "Tokyo trip", "Osaka is near Tokyo", "Tokyo or Kyoto, and Nara", "content: Tokyo"
        )
    )
    if not expected:
        with pytest.raises(InvalidInputError):
            _found(store, query)
        return
    assert set(_found(store, query)) == {f"m_c_s_{n}" for n in expected}


def test_search_ranks_by_relevance_then_newest(store: SQLiteStore) -> None:
    store.create_conversation(_conversation("c_r", "sushi", "sushi and more words after it"))
    store.create_conversation(_conversation("c_q", "sushi"))
    hits = store.search_messages("alice", query="sushi", limit=2)
    assert [h.message_id for h in hits] == ["m_c_q_0", "m_c_r_0"]  # same rank: the newer first
    assert hits[0].snippet == "sushi" and hits[0].role == "user"


_TEXT = st.text(alphabet="abéÉ1 _-'\"*:()🍣.", max_size=24)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contents=st.lists(_TEXT, min_size=1, max_size=6), query=_TEXT)
def test_fts_candidates_never_miss_a_message_the_shared_rule_matches(
    store: SQLiteStore, contents: list[str], query: str
) -> None:
    assume(re.search(r"\w", query) and len(search_terms(query)) <= 10)
    store.delete_customer("alice")
    store.create_conversation(_conversation("c_h", *contents))
    terms = search_terms(query)
    expected = {f"m_c_h_{n}" for n, text in enumerate(contents) if matches(text, terms)}
    assert set(_found(store, query)) == expected


# -- the index follows every write ---------------------------------------------------------


def test_triggers_keep_the_index_in_step_with_every_write(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        store.create_conversation(_conversation("c_1", "walrus one", "walrus two", "narwhal"))
        store.create_conversation(_conversation("c_2", "walrus three"))
        store.create_conversation(_conversation("c_3", "walrus four", customer_id="bob"))
        assert _index_hits(path, "walrus") == 4

        edited = Message(id="m_c_1_0", role="user", content="penguin one")
        store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_0", edited)
        assert (_index_hits(path, "walrus"), _index_hits(path, "penguin")) == (3, 1)
        store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_1", None)
        assert _index_hits(path, "walrus") == 2
        store.clear_messages(ConversationKey("alice", "c_1"))
        assert (_index_hits(path, "penguin"), _index_hits(path, "narwhal")) == (0, 0)
        store.delete_conversation(ConversationKey("alice", "c_2"))
        assert _index_hits(path, "walrus") == 1
        assert store.delete_customer("bob") == 1
        assert _index_hits(path, "walrus") == 0


def test_replace_message_keeps_its_place_and_fixes_the_counters(store: SQLiteStore) -> None:
    store.create_conversation(_conversation("c_1", "one", "three", "five"))
    longer = Message(id="m_c_1_1", role="assistant", content="three!", tokens=30)
    store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_1", longer)
    store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_0", None)
    loaded = store.get_conversation(ConversationKey("alice", "c_1"))
    assert [m.content for m in loaded.messages] == ["three!", "five"]
    assert (loaded.message_count, loaded.total_tokens) == (2, 34)
    with pytest.raises(MessageNotFoundError):
        store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_0", None)
    with pytest.raises(InvalidInputError):
        store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_2", longer)
    with pytest.raises(ConversationNotFoundError):
        store.replace_message(ConversationKey("bob", "c_1"), "m_c_1_2", None)


# -- header columns and TTL ----------------------------------------------------------------


def test_new_header_fields_live_in_columns_and_summaries_omit_the_share_id(
    store: SQLiteStore,
) -> None:
    store.create_conversation(
        _conversation("c_1", "hi", summary="S", archived=True, ttl=3600, share_id="nonce")
    )
    loaded = store.get_conversation(ConversationKey("alice", "c_1"))
    assert (loaded.summary, loaded.archived, loaded.ttl, loaded.share_id) == (
        "S",
        True,
        3600,
        "nonce",
    )
    (listed,) = store.list_conversations("alice", limit=5, archived=True).items
    assert (listed.summary, listed.archived, listed.ttl) == ("S", True, 3600)
    assert "share_id" not in listed.model_dump()
    assert store.list_conversations("alice", limit=5).items == []

    store.update_conversation(
        ConversationKey("alice", "c_1"),
        HeaderUpdate(fields={"ttl": None, "archived": False, "share_id": None}),
    )
    loaded = store.get_conversation(ConversationKey("alice", "c_1"))
    assert (loaded.archived, loaded.ttl, loaded.share_id) == (False, None, None)
    assert "ttl" not in loaded.to_document()


@pytest.mark.parametrize("name", ["id", "version", "title = 'x', customer_id", "updated_at"])
def test_update_refuses_names_that_are_not_header_fields(store: SQLiteStore, name: str) -> None:
    store.create_conversation(_conversation("c_1", "hi"))
    with pytest.raises(InvalidInputError):
        store.update_conversation(ConversationKey("alice", "c_1"), HeaderUpdate(fields={name: "x"}))
    assert store.get_conversation(ConversationKey("alice", "c_1")).title is None


def test_an_expired_conversation_reads_as_missing_but_is_scanned_until_deleted(
    store: SQLiteStore,
) -> None:
    store.create_conversation(_conversation("c_old", "fjord", updated_at=LONG_AGO, ttl=60))
    store.create_conversation(_conversation("c_new", "fjord", ttl=3600))
    key = ConversationKey("alice", "c_old")

    with pytest.raises(ConversationNotFoundError):
        store.get_conversation(key)
    with pytest.raises(ConversationNotFoundError):
        store.append_messages(key, [Message(role="user", content="x")])
    with pytest.raises(ConversationNotFoundError):
        store.update_conversation(key, HeaderUpdate(fields={"title": "x"}))
    with pytest.raises(ConversationNotFoundError):
        store.clear_messages(key)
    with pytest.raises(ConversationNotFoundError):
        store.replace_message(key, "m_c_old_0", None)
    listed = store.list_conversations("alice", limit=5, archived=None).items
    assert [c.id for c in listed] == ["c_new"]
    assert _found(store, "fjord") == ["m_c_new_0"]
    assert sum(store.count_messages_by_day(customer_id="alice").values()) == 1
    assert {c.id for c in store.scan_conversations(customer_id="alice")} == {"c_old", "c_new"}

    store.delete_conversation(key)
    assert [c.id for c in store.scan_conversations()] == ["c_new"]


# -- operator reads ------------------------------------------------------------------------


def test_scan_pages_through_every_customer_without_blocking_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "_SCAN_PAGE_SIZE", 2)
    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    for n in range(5):
        store.create_conversation(_conversation(f"c_{n}", "x", customer_id=f"u{n % 2}"))
    store.create_conversation(_conversation("c_9", "x", customer_id="u0", updated_at=LONG_AGO))

    scan = store.scan_conversations()
    first = next(scan)
    with SQLiteStore(path, busy_timeout_ms=50) as writer:
        writer.append_messages(
            ConversationKey(first.customer_id, first.id),
            [Message(role="user", content="during the scan")],
        )
    with sqlite3.connect(path, timeout=0.05) as db:  # a reader still open would make it busy
        (busy, _, _) = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    seen = [first.id, *(c.id for c in scan)]
    assert sorted(seen) == ["c_0", "c_1", "c_2", "c_3", "c_4", "c_9"]
    assert {c.id for c in store.scan_conversations(customer_id="u1")} == {"c_1", "c_3"}
    cutoff = (LONG_AGO + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert [c.id for c in store.scan_conversations(updated_before=cutoff)] == ["c_9"]
    store.close()


@pytest.mark.parametrize("bad", ["2025-01-01", "2025-01-01T00:00:00Z", "yesterday", ""])
def test_scan_refuses_a_cutoff_that_would_not_compare_as_a_time(
    store: SQLiteStore, bad: str
) -> None:
    with pytest.raises(InvalidInputError):
        store.scan_conversations(updated_before=bad)  # at the call, not at the first item


def test_messages_are_counted_per_day_of_their_timestamp(store: SQLiteStore) -> None:
    def at(day: int, customer: str) -> Conversation:
        conversation = _conversation(f"c_{customer}{day}", "a", "b", customer_id=customer)
        for message in conversation.messages:
            message.timestamp = datetime(2025, 1, day, 23, 59, tzinfo=UTC)
        return conversation

    for day, customer in ((1, "alice"), (2, "alice"), (2, "bob")):
        store.create_conversation(at(day, customer))
    assert store.count_messages_by_day(customer_id="alice") == {"2025-01-01": 2, "2025-01-02": 2}
    assert store.count_messages_by_day() == {"2025-01-01": 2, "2025-01-02": 4}


# -- async twin ------------------------------------------------------------------------------


async def test_async_twin_searches_replaces_and_deletes_customers(tmp_path: Path) -> None:
    async with aio.SQLiteStore(tmp_path / "c.db") as store:
        await store.create_conversation(_conversation("c_1", "hello there", archived=True))
        hits = await store.search_messages("alice", query="hel", limit=5)
        assert [h.message_id for h in hits] == ["m_c_1_0"]
        edited = Message(id="m_c_1_0", role="user", content="goodbye")
        await store.replace_message(ConversationKey("alice", "c_1"), "m_c_1_0", edited)
        assert await store.search_messages("alice", query="hel", limit=5) == []
        page = await store.list_conversations("alice", limit=5, archived=True)
        assert [c.id for c in page.items] == ["c_1"]
        assert await store.delete_customer("alice") == 1
        assert await store.delete_customer("alice") == 0


# -- values at the edges of what the validation boundary admits --------------------------------

EDGE_TIMES = [
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]
SAFE = 2**53 - 1


@pytest.mark.parametrize("when", EDGE_TIMES, ids=["year 1000", "year 9999"])
def test_admitted_edge_values_are_stored_exactly_and_stay_readable(
    store: SQLiteStore, when: datetime
) -> None:
    """The largest integers, token counts, ttl and the 4-digit-year range: every call still
    answers, and a conversation timed at year 9999 with the longest ttl is live."""
    metadata = {"max": SAFE, "min": -SAFE, "nested": [SAFE, {"n": -SAFE}]}
    conversation = _conversation(
        f"c_{when.year}", "edge", created_at=when, updated_at=when, metadata=metadata
    )
    conversation.messages[0].tokens = 2**31 - 1
    conversation.messages[0].timestamp = when
    conversation.messages[0].metadata = metadata
    store.create_conversation(conversation)
    live = _conversation("c_ttl", "edge ttl", updated_at=EDGE_TIMES[1], ttl=2**31 - 1)
    store.create_conversation(live)
    key = ConversationKey("alice", conversation.id)
    store.append_messages(key, [Message(id="m_more", role="user", content="x", tokens=2**31 - 1)])

    loaded = store.get_conversation(key)
    assert loaded.metadata == metadata == loaded.messages[0].metadata
    assert loaded.messages[0].timestamp == when and loaded.created_at == when
    assert loaded.total_tokens == 2 * (2**31 - 1)
    assert store.get_conversation(ConversationKey("alice", "c_ttl")).ttl == 2**31 - 1
    listed = store.list_conversations("alice", limit=10).items
    assert {s.id for s in listed} == {conversation.id, "c_ttl"}
    assert sorted(_found(store, "edge")) == sorted([f"m_{conversation.id}_0", "m_c_ttl_0"])
    assert store.count_messages_by_day()[when.strftime("%Y-%m-%d")] == 1
    assert len(list(store.scan_conversations())) == 2


def test_a_continuation_position_sqlite_cannot_bind_is_invalid_input(store: SQLiteStore) -> None:
    for position in (["\ud800", "c_1"], ["2025-01-24T10:30:00.000000Z"]):
        token = encode_continuation("alice", position)
        with pytest.raises(InvalidInputError, match="continuation token is malformed"):
            store.list_conversations("alice", limit=5, continuation=token)
