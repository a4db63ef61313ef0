"""A source store can hold anything an older version wrote. Rows written by raw SQL into a
real SQLite file, each breaking one rule of the validation boundary, must never escape as an
untyped exception: reading one is a ConversationStoreError, and a transfer records it as a
failed conversation and goes on, leaving the target without it."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversation_store import (
    ConversationKey,
    ConversationManager,
    ConversationStoreError,
    MemoryStore,
    SQLiteStore,
)
from conversation_store.transfer import transfer


def _message_body(expression: str) -> str:
    return f"UPDATE messages SET body = {expression} WHERE id = 'm1'"


def _rename(new_id: str) -> str:
    return f"UPDATE conversations SET id = '{new_id}'"  # its messages follow by its number


READABLE = {  # rows the store reads; the manager's boundary refuses to copy them
    "lone surrogate": _message_body("replace(body, '\"hello\"', '\"he\\ud800llo\"')"),
    "tokens 2**63-1": _message_body("json_set(body, '$.tokens', 9223372036854775807)"),
    "metadata 2**53+1": "UPDATE conversations SET metadata = '{\"a\": 9007199254740993}'",
    "year 999": _message_body(
        "replace(body, substr(json_extract(body, '$.timestamp'), 1, 4), '0999')"
    ),
    "content past the limit": _message_body(
        "replace(body, '\"hello\"', '\"' || printf('%.*c', 4200000, 'x') || '\"')"
    ),
    "metadata NaN": "UPDATE conversations SET metadata = '{\"a\": NaN}'",
}
UNREADABLE = {  # rows the store refuses to read: an InvalidInputError naming the row
    "nesting 1000": _message_body(
        'replace(body, \'"tokens"\', \'"deep": ' + "[" * 1000 + "]" * 1000 + ', "tokens"\')'
    ),
    "year 999 unpadded": _message_body(
        "replace(body, substr(json_extract(body, '$.timestamp'), 1, 4), '999')"
    ),
    "conversation id '.'": _rename("."),
    "segment-like conversation id": _rename("conv:0"),
    "negative total_tokens": "UPDATE conversations SET total_tokens = -5",
    "unknown role": _message_body("replace(body, '\"user\"', '\"wizard\"')"),
    "ttl 2**62": "UPDATE conversations SET ttl = 4611686018427387904",
}


def _hostile_source(path: Path, statements: str) -> ConversationKey:
    with ConversationManager(SQLiteStore(path)) as manager:
        manager.save_conversation(
            manager.create_conversation_document("old", "s", conversation_id="conv")
        )
        manager.append_message("conv", "old", "user", "hello", message_id="m1")
    with sqlite3.connect(path) as db:
        db.executescript(statements)
    (conversation_id,) = sqlite3.connect(path).execute("SELECT id FROM conversations").fetchone()
    return ConversationKey("old", conversation_id)


@pytest.fixture(autouse=True)
def _recursion_headroom() -> Iterator[None]:
    """Room for the 1,000-level row to be parsed and then refused by pydantic's own depth
    check. At Python's default limit a RecursionError unwinds through pytest's deep stack, and
    a finalizer run by the garbage collector there fails again, which pytest reports as an
    error of its own (seen once in CI); the store's handling of RecursionError is the same."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5_000))
    yield
    sys.setrecursionlimit(limit)


def _params(cases: dict[str, str]) -> list[object]:
    return [pytest.param(sql, id=name) for name, sql in cases.items()]


CASES = _params(READABLE) + _params(UNREADABLE)


@pytest.mark.parametrize("statements", CASES)
def test_a_hostile_stored_row_is_read_as_a_typed_error_or_a_conversation(
    tmp_path: Path, statements: str
) -> None:
    key = _hostile_source(tmp_path / "old.db", statements)
    with SQLiteStore(tmp_path / "old.db") as source:
        with contextlib.suppress(ConversationStoreError):
            source.get_conversation(key)
        source.list_conversations("old", limit=10, archived=None)


@pytest.mark.parametrize("statements", CASES)
def test_a_transfer_records_a_hostile_conversation_as_failed_and_copies_nothing(
    tmp_path: Path, statements: str
) -> None:
    key = _hostile_source(tmp_path / "old.db", statements)
    target = ConversationManager(MemoryStore())
    with SQLiteStore(tmp_path / "old.db") as source:
        report = transfer(source, target, customer_id="old")
    assert [(f.customer_id, f.conversation_id) for f in report.failures] == [tuple(key)]
    assert target.get_recent_conversations("old", archived=None).items == []


@pytest.mark.parametrize("statements", CASES)
def test_moving_a_hostile_conversation_is_refused_and_moves_nothing(
    tmp_path: Path, statements: str
) -> None:
    key = _hostile_source(tmp_path / "old.db", statements)
    with ConversationManager(SQLiteStore(tmp_path / "old.db")) as manager:
        with pytest.raises(ConversationStoreError):
            manager.move_customer_data("old", "new")
        assert manager.get_recent_conversations("new", archived=None).items == []
        assert [s.id for s in manager.get_recent_conversations("old", archived=None).items] == [
            key.conversation_id
        ]
