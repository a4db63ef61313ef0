"""Migration 006: messages point at their conversation by its number and are stored in its
order, each conversation one range of rowids.

A file written at migration 005 (by SQL, as that schema's store wrote it) opens with every
conversation, message, counter, search hit and share link as it was; afterwards it behaves as
a new file: exactly-once appends, windows, edits, cascading deletes, numbers never given twice.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conversation_store import ConflictError, InvalidInputError, SQLiteStore
from conversation_store.models import Conversation, ConversationKey, Message
from conversation_store.stores.sqlite import migrations as sqlite_migrations
from conversation_store.stores.sqlite import store as sqlite_store
from conversation_store.stores.sqlite.migrations import SEQ_SPAN

STAMP = "2025-01-24T10:30:00.000000Z"
# customer, conversation id, message bodies; "bob" shares alice's conversation id on purpose.
OLD_CONVERSATIONS = {
    ("alice", "c_1"): [
        {"id": "m_1", "role": "system", "content": "You are terse.", "metadata": {}},
        {"id": "m_2", "role": "user", "content": "walrus facts", "tokens": 3, "metadata": {}},
        {"role": "assistant", "content": "no id: a seed message", "metadata": {"k": [1]}},
        {"id": "m_4", "role": "user", "content": "otter é", "metadata": {}, "x_extra": True},
    ],
    ("bob", "c_1"): [{"id": "m_1", "role": "user", "content": "walrus bob", "metadata": {}}],
    ("alice", "c_empty"): [],
}


def _file_at_migration_005(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conversations, messages (half of them already in the search index) and a share link,
    in the rows and columns migration 005 left."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_migrations, "MIGRATIONS", sqlite_migrations.MIGRATIONS[:5])
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")  # as the store of that schema left its files
        applied = sqlite_migrations.apply_migrations(db)
    assert applied[-1] == "005_search_off_the_append_path"
    for (customer, conversation_id), bodies in OLD_CONVERSATIONS.items():
        db.execute(
            "INSERT INTO conversations (customer_id, id, title, created_at, updated_at, "
            "message_count, total_tokens, version) VALUES (?, ?, 'Old', ?, ?, ?, ?, 7)",
            (customer, conversation_id, STAMP, STAMP, len(bodies), 3 if bodies else 0),
        )
        for seq, body in enumerate(bodies):
            db.execute(
                "INSERT INTO messages (customer_id, conversation_id, seq, id, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    customer,
                    conversation_id,
                    seq,
                    body.get("id"),
                    json.dumps({**body, "timestamp": STAMP}),
                ),
            )
        if conversation_id == "c_1" and customer == "alice":
            _catch_up_as_005_did(db)  # alice's messages are indexed, bob's wait for a search
    db.execute(
        "INSERT INTO share_links VALUES ('h' || 'ash', 'alice', 'c_1', ?, NULL)", (STAMP,)
    )
    db.close()


def _catch_up_as_005_did(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO messages_search (rowid, content) SELECT rowid, content FROM messages "
        "WHERE rowid > (SELECT indexed_upto FROM search_state)"
    )
    db.execute("UPDATE search_state SET indexed_upto = (SELECT MAX(rowid) FROM messages)")


def _expected(customer: str, conversation_id: str) -> list[Message]:
    return [
        Message.model_validate({**body, "timestamp": STAMP})
        for body in OLD_CONVERSATIONS[(customer, conversation_id)]
    ]


def _found(store: SQLiteStore, customer: str, query: str) -> list[tuple[str, str | None]]:
    hits = store.search_messages(customer, query=query, limit=50)
    return sorted((hit.conversation_id, hit.message_id) for hit in hits)


@pytest.fixture
def old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "old.db"
    _file_at_migration_005(path, monkeypatch)
    return path


def test_every_conversation_reads_back_as_it_was(old_file: Path) -> None:
    with SQLiteStore(old_file) as store:
        for customer, conversation_id in OLD_CONVERSATIONS:
            loaded = store.get_conversation(ConversationKey(customer, conversation_id))
            assert loaded.messages == _expected(customer, conversation_id)
            assert (loaded.title, loaded.message_count, loaded.total_tokens) == (
                "Old",
                len(OLD_CONVERSATIONS[(customer, conversation_id)]),
                3 if loaded.messages else 0,
            )
        window = store.get_conversation(ConversationKey("alice", "c_1"), last=1)
        assert [m.id for m in window.messages] == ["m_1", "m_4"]  # the system message pinned
        assert store.get_share_link("hash") is not None


def test_search_finds_what_it_found_before_and_what_was_waiting(old_file: Path) -> None:
    with SQLiteStore(old_file) as store:
        assert _found(store, "alice", "walrus") == [("c_1", "m_2")]
        assert _found(store, "bob", "walrus") == [("c_1", "m_1")]
        assert _found(store, "alice", "otter") == [("c_1", "m_4")]
    with sqlite3.connect(old_file) as db:
        db.execute(
            "INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)"
        )


def test_the_migrated_file_keeps_appends_exactly_once_and_edits_in_place(old_file: Path) -> None:
    key = ConversationKey("alice", "c_1")
    with SQLiteStore(old_file) as store:
        again = Message(id="m_2", role="user", content="a retried append")
        new = Message(id="m_5", role="user", content="narwhal")
        store.append_messages(key, [again, new, new])
        store.replace_message(key, "m_4", Message(id="m_4", role="user", content="heron"))
        store.replace_message(key, "m_1", None)
        loaded = store.get_conversation(key)
        assert [(m.id, m.content) for m in loaded.messages] == [
            ("m_2", "walrus facts"),
            (None, "no id: a seed message"),
            ("m_4", "heron"),
            ("m_5", "narwhal"),
        ]
        assert loaded.message_count == 4
        assert _found(store, "alice", "heron narwhal") == []
        assert _found(store, "alice", "heron") == [("c_1", "m_4")]
        # bob's conversation of the same id is untouched
        bob = store.get_conversation(ConversationKey("bob", "c_1"))
        assert bob.messages == _expected("bob", "c_1")


def test_deleting_a_migrated_conversation_deletes_its_messages_only(old_file: Path) -> None:
    with SQLiteStore(old_file) as store:
        store.delete_conversation(ConversationKey("alice", "c_1"))
        assert _found(store, "bob", "walrus") == [("c_1", "m_1")]
        assert _found(store, "alice", "walrus") == []
        # a conversation made now gets a number no other conversation has
        store.create_conversation(
            Conversation(
                id="c_new",
                customer_id="alice",
                messages=[Message(id="m_1", role="user", content="walrus again")],
            )
        )
        assert _found(store, "alice", "walrus") == [("c_new", "m_1")]
    with sqlite3.connect(old_file) as db:
        (messages,) = db.execute("SELECT COUNT(*) FROM messages").fetchone()
        numbers = [n for (n,) in db.execute("SELECT number FROM conversations")]
        orphans = db.execute("PRAGMA foreign_key_check").fetchall()
    assert messages == 2 and len(set(numbers)) == len(numbers) == 3 and orphans == []


def test_message_rows_hold_no_text_keys_and_no_empty_metadata(tmp_path: Path) -> None:
    key = ConversationKey("alice", "c_1")
    with SQLiteStore(tmp_path / "new.db") as store:
        store.create_conversation(Conversation(id="c_1", customer_id="alice"))
        store.append_messages(
            key,
            [
                Message(id="m_1", role="user", content="plain"),
                Message(id="m_2", role="user", content="tagged", metadata={"k": "v"}),
            ],
        )
        loaded = store.get_conversation(key)
    assert [m.metadata for m in loaded.messages] == [{}, {"k": "v"}]
    with sqlite3.connect(tmp_path / "new.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_xinfo(messages)")]
        rows = db.execute("SELECT rowid, body FROM messages ORDER BY rowid").fetchall()
        indexes = {row[1] for row in db.execute("PRAGMA index_list(messages)")}
    assert columns == ["rowid", "conversation", "body", "id", "content"]
    assert indexes == {"messages_by_id"}  # the order is the table's own
    assert [rowid for rowid, _ in rows] == [SEQ_SPAN, SEQ_SPAN + 1]
    assert ["metadata" in json.loads(body) for _, body in rows] == [False, True]


def test_sequence_numbers_and_conversation_numbers_are_never_given_twice(tmp_path: Path) -> None:
    """A popped or deleted newest message, or a deleted newest conversation, leaves its place
    empty: the next one gets a new rowid, above every indexed one, and waits for a search."""
    path = tmp_path / "s.db"
    first = ConversationKey("alice", "c_1")
    with SQLiteStore(path) as store:
        store.create_conversation(
            Conversation(
                id="c_1",
                customer_id="alice",
                messages=[Message(id="m_1", role="user", content="walrus")],
            )
        )
        store.append_messages(first, [Message(id="m_2", role="user", content="penguin")])
        assert _found(store, "alice", "penguin") == [("c_1", "m_2")]  # indexed
        store.pop_messages(first, 1)
        store.append_messages(first, [Message(id="m_3", role="user", content="narwhal")])
        assert _found(store, "alice", "penguin") == []
        assert _found(store, "alice", "narwhal") == [("c_1", "m_3")]
        store.create_conversation(Conversation(id="c_2", customer_id="alice"))
        store.delete_conversation(ConversationKey("alice", "c_2"))
        store.create_conversation(Conversation(id="c_3", customer_id="alice"))
    with sqlite3.connect(path) as db:
        rowids = [r for (r,) in db.execute("SELECT rowid FROM messages ORDER BY rowid")]
        numbers = dict(db.execute("SELECT id, number FROM conversations").fetchall())
        db.execute(
            "INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)"
        )
    assert rowids == [SEQ_SPAN, SEQ_SPAN + 2]  # m_2's place stays empty
    assert numbers == {"c_1": 1, "c_3": 3}  # c_2's number is not given again


def _free_pages(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("PRAGMA freelist_count").fetchone()
    return int(count)


def test_the_old_copy_of_the_messages_is_given_back_to_the_file_system(old_file: Path) -> None:
    with SQLiteStore(old_file) as store:
        assert store.get_conversation(ConversationKey("bob", "c_1")).messages
    assert _free_pages(old_file) == 0


def test_a_writer_that_slips_in_after_the_migration_only_delays_the_compacting(
    old_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process starts a write between the migration and its VACUUM: the store opens
    with everything readable, and the free pages wait for later writes to reuse them."""
    other = sqlite3.connect(old_file, isolation_level=None)

    def migrate_then_let_another_writer_in(db: sqlite3.Connection) -> list[str]:
        applied = sqlite_migrations.apply_migrations(db)
        other.execute("BEGIN IMMEDIATE")
        return applied

    monkeypatch.setattr(sqlite_store, "apply_migrations", migrate_then_let_another_writer_in)
    try:
        with SQLiteStore(old_file, busy_timeout_ms=100) as store:
            other.execute("ROLLBACK")
            loaded = store.get_conversation(ConversationKey("alice", "c_1"))
            assert loaded.messages == _expected("alice", "c_1")
    finally:
        other.close()
    assert _free_pages(old_file) > 0


# Values a conversation row changed by hand may hold where an append computes its rowid.
HOSTILE_POSITIONS = {
    "number NULL": "number = NULL",
    "number text": "number = 'abc'",
    "number real": "number = 1.5",
    "number blob": "number = x'01'",
    "number 0": "number = 0",
    "number negative": "number = -3",
    "number 2**31": "number = 2147483648",
    "number 2**63-1": "number = 9223372036854775807",
    "next_seq negative": "next_seq = -1",
    "next_seq text": "next_seq = 'x7'",
    "next_seq past 2**32": "next_seq = 4294967297",
    "next_seq 2**63-1": "next_seq = 9223372036854775807",
}


def _snapshot(path: Path) -> list[object]:
    with sqlite3.connect(path) as db:
        return [
            db.execute("SELECT * FROM conversations ORDER BY customer_id, id").fetchall(),
            db.execute("SELECT rowid, body FROM messages ORDER BY rowid").fetchall(),
        ]


@pytest.mark.parametrize("assignment", HOSTILE_POSITIONS.values(), ids=HOSTILE_POSITIONS.keys())
def test_an_append_to_a_row_changed_by_hand_is_refused_and_writes_nothing(
    tmp_path: Path, assignment: str
) -> None:
    path = tmp_path / "s.db"
    key = ConversationKey("alice", "c_1")
    with SQLiteStore(path) as store:
        first = Message(id="m_1", role="user", content="a")
        store.create_conversation(Conversation(id="c_1", customer_id="alice", messages=[first]))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = OFF")  # as a hand edit would
        db.execute(f"UPDATE conversations SET {assignment}")
    before = _snapshot(path)
    with SQLiteStore(path) as store, pytest.raises(InvalidInputError, match="c_1"):
        store.append_messages(key, [Message(id="m_2", role="user", content="b")])
    assert _snapshot(path) == before


def test_a_next_seq_at_its_limit_is_a_conflict_not_a_clash_with_the_next_conversation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    key = ConversationKey("alice", "c_1")
    with SQLiteStore(path) as store:
        store.create_conversation(Conversation(id="c_1", customer_id="alice"))
        store.create_conversation(Conversation(id="c_2", customer_id="alice"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE conversations SET next_seq = ? WHERE id = 'c_1'", (SEQ_SPAN - 1,))
    with SQLiteStore(path) as store:
        store.append_messages(key, [Message(id="m_last", role="user", content="fits")])
        with pytest.raises(ConflictError, match="as many messages as it can"):
            store.append_messages(key, [Message(id="m_over", role="user", content="no room")])
        assert [m.id for m in store.get_conversation(key).messages] == ["m_last"]
        assert store.get_conversation(ConversationKey("alice", "c_2")).messages == []


# Counter values changed by hand: past any use, or behind a number already given ("abc" and
# a blob count as 0 in SQL, so the next number is 1, c_0's).
HOSTILE_COUNTERS = [1.5, -1, 0, "abc", b"\x01", 2**31, 2**63 - 1]  # NULL: SQLite refuses it


@pytest.mark.parametrize("value", HOSTILE_COUNTERS)
def test_a_create_with_a_counter_changed_by_hand_is_refused_and_writes_nothing(
    tmp_path: Path, value: object
) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.create_conversation(Conversation(id="c_0", customer_id="alice"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE conversation_numbering SET last_number = ?", (value,))
    before = _snapshot(path)
    with SQLiteStore(path) as store, pytest.raises(InvalidInputError, match="numbering"):
        store.create_conversation(Conversation(id="c_1", customer_id="alice"))
    assert _snapshot(path) == before


HOSTILE_MARKS = {
    "number text": "number = 'abc'",
    "number 2**63-1": "number = 9223372036854775807",
    "indexed_seq far below": "indexed_seq = -4294967296",
    "indexed_seq text": "indexed_seq = 'x'",
    "next_seq 2**63-1": "next_seq = 9223372036854775807",
}


@pytest.mark.parametrize("assignment", HOSTILE_MARKS.values(), ids=HOSTILE_MARKS.keys())
def test_a_search_over_a_row_changed_by_hand_indexes_no_other_conversation(
    tmp_path: Path, assignment: str
) -> None:
    """The catch-up computes in SQL, where a hand-made value selects nothing, and reads only
    the conversation's own rows: nothing raises, and the other conversation is found once."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        for conversation_id in ("c_1", "c_2"):
            walrus = Message(id=f"m_{conversation_id}", role="user", content="walrus")
            store.create_conversation(
                Conversation(id=conversation_id, customer_id="alice", messages=[walrus])
            )
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = OFF")  # as a hand edit would
        db.execute(f"UPDATE conversations SET {assignment} WHERE id = 'c_2'")
    with SQLiteStore(path) as store:
        found = _found(store, "alice", "walrus")
    assert found.count(("c_1", "m_c_1")) == 1
    with sqlite3.connect(path) as db:
        indexed = [r for (r,) in db.execute("SELECT rowid FROM messages_search('walrus')")]
    assert indexed.count(SEQ_SPAN) == 1  # c_1's message, indexed once


UNREADABLE_BODIES = ['{"id": "m_x", "role": "user", "content": "walrus', "not json", "[" * 5000]


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
def test_no_file_before_or_after_migration_006_takes_a_body_sqlite_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    """Migration 006 copies bodies through `json_extract`; it can, because since migration
    002 every insert or update of a body computes its `content` (005's triggers read it), and
    since 006 its `id` for the index: SQLite refuses the statement, even by hand."""
    path = tmp_path / "old.db"
    _file_at_migration_005(path, monkeypatch)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.OperationalError, match="JSON"):
        db.execute(
            "INSERT INTO messages (customer_id, conversation_id, seq, id, body) "
            "VALUES ('bob', 'c_1', 1, 'm_x', ?)",
            (body,),
        )
    with SQLiteStore(path) as store:
        assert store.get_conversation(ConversationKey("bob", "c_1")).messages == _expected(
            "bob", "c_1"
        )
    with sqlite3.connect(path) as db:
        for statement in (
            f"INSERT INTO messages (rowid, conversation, body) VALUES ({SEQ_SPAN * 2 + 9}, 2, ?)",
            "UPDATE messages SET body = ?",
        ):
            with pytest.raises(sqlite3.OperationalError, match="JSON"):
                db.execute(statement, (body,))
