"""The SQLite search index off the append path: exact at every search, across edits, deletes,
pops and the migrations of a file whose index was kept by triggers (migrations 005 and 006).

A Hypothesis state machine compares every search with a plain model (the shared
`search.matches` rule over the messages the model holds) after every step.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conversation_store import ConversationNotFoundError, SQLiteStore
from conversation_store.models import Conversation, ConversationKey, Message
from conversation_store.search import matches, search_terms
from conversation_store.stores.sqlite import indexing
from conversation_store.stores.sqlite import migrations as sqlite_migrations

CUSTOMER = "alice"
WORDS = ("walrus", "penguin", "narwhal", "otter", "heron")
QUERIES = (*WORDS, "walrus otter", "pen", "narwhal heron")


def _found(store: SQLiteStore, query: str, customer_id: str = CUSTOMER) -> set[str | None]:
    return {h.message_id for h in store.search_messages(customer_id, query=query, limit=500)}


def _integrity_check(path: Path) -> None:
    """FTS5's own check of the index against the messages, once the index caught up."""
    with sqlite3.connect(path) as db:
        indexing.catch_up(db)
        db.execute(
            "INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)"
        )


class SearchMatchesModel(RuleBasedStateMachine):
    """Appends, edits, deletes of messages and conversations; searches at any point."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="search-model-"))
        self.path = self.directory / "s.db"
        self.store = SQLiteStore(self.path)
        self.model: dict[str, dict[str, str]] = {}  # conversation id -> message id -> content
        self.serial = 0

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial:05d}"

    @rule(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    def create(self, words: list[str]) -> None:
        conversation_id = self._next_id("c")
        message = Message(id=self._next_id("m"), role="user", content=" ".join(words))
        self.store.create_conversation(
            Conversation(id=conversation_id, customer_id=CUSTOMER, messages=[message])
        )
        self.model[conversation_id] = {str(message.id): str(message.content)}

    @precondition(lambda self: self.model)
    @rule(data=st.data(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    def append(self, data: st.DataObject, words: list[str]) -> None:
        conversation_id = data.draw(st.sampled_from(sorted(self.model)))
        message = Message(id=self._next_id("m"), role="assistant", content=" ".join(words))
        self.store.append_messages(ConversationKey(CUSTOMER, conversation_id), [message])
        self.model[conversation_id][str(message.id)] = str(message.content)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    def edit(self, data: st.DataObject, words: list[str]) -> None:
        conversation_id, message_id = self._pick_message(data)
        edited = Message(id=message_id, role="user", content=" ".join(words))
        self.store.replace_message(ConversationKey(CUSTOMER, conversation_id), message_id, edited)
        self.model[conversation_id][message_id] = str(edited.content)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data())
    def delete_message(self, data: st.DataObject) -> None:
        conversation_id, message_id = self._pick_message(data)
        self.store.replace_message(ConversationKey(CUSTOMER, conversation_id), message_id, None)
        del self.model[conversation_id][message_id]

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), n=st.integers(min_value=1, max_value=3))
    def pop(self, data: st.DataObject, n: int) -> None:
        conversation_id = data.draw(
            st.sampled_from(sorted(c for c, messages in self.model.items() if messages))
        )
        popped = self.store.pop_messages(ConversationKey(CUSTOMER, conversation_id), n)
        assert [m.id for m in popped] == list(self.model[conversation_id])[-n:]
        for message in popped:
            del self.model[conversation_id][str(message.id)]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), clear=st.booleans())
    def drop_conversation(self, data: st.DataObject, clear: bool) -> None:
        conversation_id = data.draw(st.sampled_from(sorted(self.model)))
        key = ConversationKey(CUSTOMER, conversation_id)
        if clear:
            self.store.clear_messages(key)
            self.model[conversation_id] = {}
        else:
            self.store.delete_conversation(key)
            del self.model[conversation_id]

    @rule(query=st.sampled_from(QUERIES))
    def search(self, query: str) -> None:
        terms = search_terms(query)
        expected = {
            message_id
            for messages in self.model.values()
            for message_id, content in messages.items()
            if matches(content, terms)
        }
        assert _found(self.store, query) == expected

    @invariant()
    def every_word_finds_exactly_the_model(self) -> None:
        for word in WORDS:
            self.search(word)

    def _pick_message(self, data: st.DataObject) -> tuple[str, str]:
        conversation_id = data.draw(
            st.sampled_from(sorted(c for c, messages in self.model.items() if messages))
        )
        return conversation_id, data.draw(st.sampled_from(sorted(self.model[conversation_id])))


SearchMatchesModel.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_search_matches_the_model_after_every_step = SearchMatchesModel.TestCase


def test_appends_leave_the_index_behind_and_a_search_catches_it_up(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.create_conversation(Conversation(id="c_1", customer_id=CUSTOMER))
        key = ConversationKey(CUSTOMER, "c_1")
        for n in range(3):
            store.append_messages(key, [Message(id=f"m_{n}", role="user", content="walrus")])
        with sqlite3.connect(path) as db:
            assert indexing.pending(db)
            (indexed,) = db.execute("SELECT COUNT(*) FROM messages_search_docsize").fetchone()
        assert indexed == 0
        assert _found(store, "walrus") == {"m_0", "m_1", "m_2"}
        with sqlite3.connect(path) as db:
            assert not indexing.pending(db)
    _integrity_check(path)


def _database_at_migration_003(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as the store wrote it before issue 16: its index kept by triggers."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_migrations, "MIGRATIONS", sqlite_migrations.MIGRATIONS[:3])
        db = sqlite3.connect(path, isolation_level=None)
        assert sqlite_migrations.apply_migrations(db)[-1] == "003_share_links"
    db.execute(
        "INSERT INTO conversations (customer_id, id, title, created_at, updated_at, "
        "message_count) VALUES ('alice', 'c_old', 'Old', '2025-01-24T10:30:00.000000Z', "
        "'2025-01-24T10:35:00.000000Z', 3)"
    )
    for seq, content in enumerate(("walrus one", "penguin two", "walrus three")):
        body = {
            "id": f"m_{seq}",
            "role": "user",
            "content": content,
            "timestamp": "2025-01-24T10:30:00.000000Z",
            "metadata": {},
        }
        db.execute(
            "INSERT INTO messages (customer_id, conversation_id, seq, id, body) "
            "VALUES ('alice', 'c_old', ?, ?, ?)",
            (seq, f"m_{seq}", json.dumps(body)),
        )
    db.close()


def test_a_file_indexed_by_triggers_migrates_without_losing_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    _database_at_migration_003(path, monkeypatch)
    with SQLiteStore(path) as store:
        assert _found(store, "walrus") == {"m_0", "m_2"}
        key = ConversationKey(CUSTOMER, "c_old")
        store.append_messages(key, [Message(id="m_new", role="user", content="walrus four")])
        store.replace_message(key, "m_0", Message(id="m_0", role="user", content="otter"))
        store.replace_message(key, "m_1", None)
        assert _found(store, "walrus") == {"m_2", "m_new"}
        assert (_found(store, "otter"), _found(store, "penguin")) == ({"m_0"}, set())
    with sqlite3.connect(path) as db:
        triggers = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    # migration 006's: indexed messages kept exact, and a conversation's delete goes through
    # its messages' trigger; no trigger indexes an append
    assert set(triggers) == {
        "messages_search_delete",
        "messages_search_update",
        "conversations_delete_messages",
    }
    assert "WHEN" in triggers["messages_search_delete"] + triggers["messages_search_update"]
    _integrity_check(path)


def test_a_search_of_a_missing_customer_finds_nothing_and_writes_nothing(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        assert _found(store, "walrus", customer_id="nobody") == set()
        with pytest.raises(ConversationNotFoundError):
            store.append_messages(
                ConversationKey(CUSTOMER, "c_missing"), [Message(role="user", content="walrus")]
            )
        assert _found(store, "walrus") == set()
