"""Message bodies changed by hand in the SQLite file, against every call that reads them.

SQLite's triggers refuse a body that is not JSON (tests/unit/test_sqlite_clustered_messages.py),
but a hand-written statement can still store JSON that is no message (an array, a number, an
object with a role or token count no message has) or a BLOB. Every call then either works or
raises a typed ConversationStoreError, and a call that raises leaves the file as it was.
Deleting the bad message is the repair, so it works; so do appends and listings, which read no
body.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conversation_store import ConversationManager
from conversation_store.exceptions import ConversationStoreError, InvalidInputError
from conversation_store.stores.sqlite.store import SQLiteStore

CUSTOMER = "bob"

# SQL expressions for the first message's new body; `body` is its old one.
BAD_BODIES = {
    "blob of its JSON": "CAST(body AS BLOB)",
    "blob of an empty object": "x'7b7d'",
    "array": "'[1]'",
    "string": "'\"hello\"'",
    "number": "'5'",
    "null": "'null'",
    "two objects' worth": "json_array(json(body), json(body))",
    "unknown role": "json_set(body, '$.role', 'walrus')",
    "role a number": "json_set(body, '$.role', 7)",
    "tokens as text": "json_set(body, '$.tokens', '9')",
    "tokens negative": "json_set(body, '$.tokens', -4)",
    "tokens a float": "json_set(body, '$.tokens', 2.5)",
    "tokens true": "json_set(body, '$.tokens', json('true'))",
    "tokens past 64 bits": "json_set(body, '$.tokens', json('123456789012345678901234567890'))",
    "tokens past the cap": "json_set(body, '$.tokens', 4294967296)",
    "timestamp not a time": "json_set(body, '$.timestamp', 'yesterday')",
    "content an object": "json_set(body, '$.content', json('{\"a\":1}'))",
    "a system message": "json_set(body, '$.role', 'system')",
}


def _file(path: Path, bad_body: str) -> tuple[ConversationManager, str, str]:
    """A conversation of 6 messages whose first body is `bad_body`; its id and that message's."""
    manager = ConversationManager(SQLiteStore(path))
    doc = manager.create_conversation_document(CUSTOMER, "hand-written")
    manager.save_conversation(doc)
    ids = [
        manager.append_message(
            doc.id, CUSTOMER, "user" if i % 2 == 0 else "assistant", f"walrus {i}", tokens=3
        ).message_ids[0]
        for i in range(6)
    ]
    with sqlite3.connect(path) as db:
        db.execute(
            f"UPDATE messages SET body = {bad_body} WHERE rowid = (SELECT min(rowid) FROM messages)"
        )
    return manager, doc.id, ids[0]


def _snapshot(path: Path) -> list[Any]:
    with sqlite3.connect(path) as db:
        return [
            db.execute("SELECT rowid, body FROM messages ORDER BY rowid").fetchall(),
            db.execute(
                "SELECT id, message_count, total_tokens, version, title FROM conversations"
            ).fetchall(),
        ]


Call = Callable[[ConversationManager, str, str], object]

READS: dict[str, Call] = {
    "load": lambda m, c, _: m.load_conversation(c, CUSTOMER),
    "history window": lambda m, c, _: m.get_history(c, CUSTOMER, max_messages=3),
    "history all": lambda m, c, _: m.get_history(c, CUSTOMER),
    "last messages": lambda m, c, _: m.get_messages(c, CUSTOMER, last=3),
    "all messages": lambda m, c, _: m.get_messages(c, CUSTOMER),
    "search": lambda m, c, _: m.search_conversations(CUSTOMER, "walrus"),
    "stats": lambda m, c, _: m.get_stats(CUSTOMER),
    "export": lambda m, c, _: m.export_customer(CUSTOMER),
    "export markdown": lambda m, c, _: m.export_conversation(c, CUSTOMER, "markdown"),
}
WRITES: dict[str, Call] = {
    "pop all": lambda m, c, _: m.pop_messages(c, CUSTOMER, 6),
    "edit the bad message": lambda m, c, first: m.edit_message(c, CUSTOMER, first, "mended"),
    "fork at the last message": lambda m, c, _: m.fork_conversation(
        c, CUSTOMER, m.get_messages(c, CUSTOMER, last=1)[0].id or ""
    ),
    "share": lambda m, c, _: m.share_conversation(c, CUSTOMER),
}
# Calls that read no body, or whose work is to remove the bad one: they must work.
REPAIRS: dict[str, Call] = {
    "append": lambda m, c, _: m.append_message(c, CUSTOMER, "user", "after", tokens=1),
    "list": lambda m, c, _: m.get_recent_conversations(CUSTOMER),
    "rename": lambda m, c, _: m.rename_conversation(c, CUSTOMER, "renamed"),
    "clear": lambda m, c, _: m.clear_conversation(c, CUSTOMER),
    "delete the conversation": lambda m, c, _: m.delete_conversation(c, CUSTOMER),
    "delete the customer's data": lambda m, c, _: m.delete_customer_data(CUSTOMER),
}


@pytest.mark.parametrize("call", [*READS, *WRITES])
@pytest.mark.parametrize("bad", BAD_BODIES)
def test_a_call_over_a_hand_written_body_works_or_raises_typed_and_changes_nothing(
    tmp_path: Path, bad: str, call: str
) -> None:
    path = tmp_path / "hand.db"
    manager, conversation_id, first = _file(path, BAD_BODIES[bad])
    before = _snapshot(path)
    try:
        {**READS, **WRITES}[call](manager, conversation_id, first)
    except ConversationStoreError:
        assert _snapshot(path) == before
    manager.close()


@pytest.mark.parametrize("call", REPAIRS)
@pytest.mark.parametrize("bad", BAD_BODIES)
def test_calls_that_read_no_body_work_over_a_hand_written_one(
    tmp_path: Path, bad: str, call: str
) -> None:
    path = tmp_path / "hand.db"
    manager, conversation_id, first = _file(path, BAD_BODIES[bad])
    manager.share_conversation(conversation_id, CUSTOMER)
    REPAIRS[call](manager, conversation_id, first)
    if call.startswith("delete"):
        with sqlite3.connect(path) as db:  # nothing of it left, its share link included
            assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM share_links").fetchone() == (0,)
    manager.close()


# Bodies that still carry the message's id, so it can be named and deleted.
WITH_ID = [name for name, sql in BAD_BODIES.items() if "json_set" in sql or "CAST" in sql]


@pytest.mark.parametrize("bad", WITH_ID)
def test_the_bad_message_can_be_deleted_and_the_rest_then_reads(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "hand.db"
    manager, conversation_id, first = _file(path, BAD_BODIES[bad])
    manager.delete_message(conversation_id, CUSTOMER, first)
    conversation = manager.load_conversation(conversation_id, CUSTOMER)
    assert [m.text for m in conversation.messages] == [f"walrus {i}" for i in range(1, 6)]
    assert conversation.message_count == 5
    assert 0 <= conversation.total_tokens <= 18
    manager.close()


@pytest.mark.parametrize("bad", ["blob of its JSON", "array", "unknown role", "null"])
def test_a_load_names_the_conversation_it_cannot_read(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "hand.db"
    manager, conversation_id, _ = _file(path, BAD_BODIES[bad])
    if bad == "blob of its JSON":  # the same JSON as bytes: it is read as it is
        assert len(manager.load_conversation(conversation_id, CUSTOMER).messages) == 6
        return
    with pytest.raises(InvalidInputError, match=conversation_id):
        manager.load_conversation(conversation_id, CUSTOMER)
    manager.close()
