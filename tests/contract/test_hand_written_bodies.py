"""Stored messages changed by hand, against every call that reads them.

SQLite's triggers refuse a body that is not JSON (tests/unit/test_sqlite_clustered_messages.py),
but a hand-written statement can still store JSON that is no message (an array, a number, an
object with a role or token count no message has) or a BLOB; PostgreSQL keeps bodies as text,
so there any text; on Cosmos DB, any JSON value in place of a message in the head item. Every
call then either works or raises a typed ConversationStoreError, and a call that raises leaves
the stored rows as they were. Deleting the bad message is the repair,
so it works; so do appends and listings, which read no body, and deleting the conversation or
the customer's data, which must never be blocked by what they delete.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
from azure.cosmos import ContainerProxy, CosmosClient

from conversation_store import ConversationManager
from conversation_store.exceptions import ConversationStoreError, InvalidInputError
from conversation_store.stores.postgres.store import PostgresStore
from conversation_store.stores.protocol import ConversationStore
from conversation_store.stores.sqlite.store import SQLiteStore
from support.cosmos_fixtures import FAST_RETRY, TEST_DATABASE, open_cosmos_store

CUSTOMER = "bob"
Body = str | bytes

# The first message's new body, made from its stored document.
BAD_BODIES: dict[str, Callable[[dict[str, Any]], Body]] = {
    "blob of its JSON": lambda d: json.dumps(d).encode(),
    "blob of an empty object": lambda d: b"{}",
    "array": lambda d: "[1]",
    "string": lambda d: '"hello"',
    "number": lambda d: "5",
    "null": lambda d: "null",
    "two objects' worth": lambda d: json.dumps([d, d]),
    "unknown role": lambda d: json.dumps({**d, "role": "walrus"}),
    "role a number": lambda d: json.dumps({**d, "role": 7}),
    "tokens as text": lambda d: json.dumps({**d, "tokens": "9"}),
    "tokens negative": lambda d: json.dumps({**d, "tokens": -4}),
    "tokens a float": lambda d: json.dumps({**d, "tokens": 2.5}),
    "tokens true": lambda d: json.dumps({**d, "tokens": True}),
    "tokens past 64 bits": lambda d: json.dumps({**d, "tokens": 10**29}),
    "tokens past the cap": lambda d: json.dumps({**d, "tokens": 2**32}),
    "timestamp not a time": lambda d: json.dumps({**d, "timestamp": "yesterday"}),
    "content an object": lambda d: json.dumps({**d, "content": {"a": 1}}),
    "a system message": lambda d: json.dumps({**d, "role": "system"}),
    "not JSON": lambda d: "walrus 0 is not json",
    "deeply nested": lambda d: "[" * 5000 + "]" * 5000,
}
# SQLite's triggers refuse these (not JSON, or nested past SQLite's JSON depth limit);
# PostgreSQL's text column refuses bytes; a Cosmos item holds JSON values only.
BYTES = {"blob of its JSON", "blob of an empty object"}
REFUSED = {
    "sqlite": {"not JSON", "deeply nested"},
    "postgres": BYTES,
    "cosmos": {*BYTES, "not JSON", "deeply nested"},
}


class Backend(Protocol):
    """A store of one backend, and the means to change its stored messages by hand."""

    name: str

    def open(self) -> ConversationStore: ...

    def first_body(self) -> dict[str, Any]:
        """The stored document of the oldest message."""
        ...

    def set_first_body(self, body: Body) -> None: ...

    def snapshot(self) -> list[Any]:
        """Everything stored, as comparable values."""
        ...

    def leftovers(self) -> int:
        """How many messages and share links are stored."""
        ...


@dataclass
class SqlBackend:
    """SQLite or PostgreSQL, changed through a DB-API connection (its `with` commits)."""

    name: str
    open: Callable[[], ConversationStore]
    raw: Callable[[], Any]

    def first_body(self) -> dict[str, Any]:
        ((body,),) = self._execute(f"SELECT body FROM messages ORDER BY {self._seq} LIMIT 1")
        document: dict[str, Any] = json.loads(body)
        return document

    def set_first_body(self, body: Body) -> None:
        seq = self._seq
        self._execute(
            f"UPDATE messages SET body = ? WHERE {seq} = (SELECT min({seq}) FROM messages)",
            (body,),
        )

    def snapshot(self) -> list[Any]:
        return [
            self._execute("SELECT id, body FROM messages ORDER BY id"),
            self._execute(
                "SELECT id, message_count, total_tokens, version, title FROM conversations"
            ),
            self._execute("SELECT token_hash FROM share_links"),
        ]

    def leftovers(self) -> int:
        ((messages,),) = self._execute("SELECT count(*) FROM messages")
        ((links,),) = self._execute("SELECT count(*) FROM share_links")
        return int(messages) + int(links)

    @property
    def _seq(self) -> str:
        return "rowid" if self.name == "sqlite" else "seq"

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        placeholder = "?" if self.name == "sqlite" else "%s"
        with self.raw() as db:
            cursor = db.execute(sql.replace("?", placeholder), params)
            return [] if cursor.description is None else list(cursor.fetchall())


@dataclass
class CosmosBackend:
    """The local Cosmos server, changed through the bare SDK: the head item's first message
    (6 small messages stay in the head)."""

    open: Callable[[], ConversationStore]
    raw: ContainerProxy
    name: str = "cosmos"

    def first_body(self) -> dict[str, Any]:
        document: dict[str, Any] = self._head()["messages"][0]
        return document

    def set_first_body(self, body: Body) -> None:
        head = self._head()
        head["messages"][0] = json.loads(body)
        self.raw.replace_item(head["id"], head)

    def snapshot(self) -> list[Any]:
        items = [
            {k: v for k, v in item.items() if not k.startswith("_")}
            for item in self.raw.read_all_items()
        ]
        return sorted(items, key=lambda item: str(item["id"]))

    def leftovers(self) -> int:
        return len(list(self.raw.read_all_items()))

    def _head(self) -> dict[str, Any]:
        (head,) = (item for item in self.raw.read_all_items() if "messages" in item)
        return head


SERVERS = {"postgres": pytest.mark.postgres, "cosmos": pytest.mark.cosmos}
# On the servers `make test` runs a few bodies (no object, a count no message has, no JSON);
# `make soak` runs them all. SQLite runs them all in both.
QUICK = {"array", "tokens negative", "not JSON"}


def cases(bodies: Iterable[str]) -> list[Any]:
    """(backend, bad body) parameters for every body a backend can store."""
    chosen = list(bodies)
    found = [
        pytest.param("sqlite", bad, id=f"sqlite-{bad}")
        for bad in chosen
        if bad not in REFUSED["sqlite"]
    ]
    for server, mark in SERVERS.items():
        for bad in chosen:
            if bad not in REFUSED[server]:
                marks = [mark] if bad in QUICK else [mark, pytest.mark.soak]
                found.append(pytest.param(server, bad, marks=marks, id=f"{server}-{bad}"))
    return found


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "hand.db"
        yield SqlBackend("sqlite", lambda: SQLiteStore(path), lambda: sqlite3.connect(path))
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        yield SqlBackend("postgres", lambda: PostgresStore(url), lambda: psycopg.connect(url))
    else:
        target, name = request.getfixturevalue("cosmos_container")
        client = CosmosClient(
            target.endpoint, credential=target.key, connection_verify=target.verify_tls
        )
        container = client.get_database_client(TEST_DATABASE).get_container_client(name)
        yield CosmosBackend(lambda: open_cosmos_store(target, name, retry=FAST_RETRY), container)
        client.close()


def _file(backend: Backend, bad: str) -> tuple[ConversationManager, str, str]:
    """A conversation of 6 messages whose first body is `bad`'s; its id and that message's."""
    manager = ConversationManager(backend.open())
    doc = manager.create_conversation_document(CUSTOMER, "hand-written")
    manager.save_conversation(doc)
    ids = [
        manager.append_message(
            doc.id, CUSTOMER, "user" if i % 2 == 0 else "assistant", f"walrus {i}", tokens=3
        ).message_ids[0]
        for i in range(6)
    ]
    backend.set_first_body(BAD_BODIES[bad](backend.first_body()))
    return manager, doc.id, ids[0]


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
@pytest.mark.parametrize(("backend", "bad"), cases(BAD_BODIES), indirect=["backend"])
def test_a_call_over_a_hand_written_body_works_or_raises_typed_and_changes_nothing(
    backend: Backend, bad: str, call: str
) -> None:
    manager, conversation_id, first = _file(backend, bad)
    before = backend.snapshot()
    try:
        {**READS, **WRITES}[call](manager, conversation_id, first)
    except ConversationStoreError:
        assert backend.snapshot() == before
    manager.close()


@pytest.mark.parametrize("call", REPAIRS)
@pytest.mark.parametrize(("backend", "bad"), cases(BAD_BODIES), indirect=["backend"])
def test_calls_that_read_no_body_work_over_a_hand_written_one(
    backend: Backend, bad: str, call: str
) -> None:
    manager, conversation_id, first = _file(backend, bad)
    manager.share_conversation(conversation_id, CUSTOMER)
    REPAIRS[call](manager, conversation_id, first)
    if call.startswith("delete"):  # nothing of it left, its share link included
        assert backend.leftovers() == 0
    manager.close()


# Bodies that still carry the message's id (SQLite finds a message by the id in its body).
WITH_ID = [
    "blob of its JSON",
    *(name for name in BAD_BODIES if name.startswith(("role", "tokens", "unknown", "timest"))),
    "content an object",
    "a system message",
]


@pytest.mark.parametrize(("backend", "bad"), cases(WITH_ID), indirect=["backend"])
def test_the_bad_message_can_be_deleted_and_the_rest_then_reads(backend: Backend, bad: str) -> None:
    manager, conversation_id, first = _file(backend, bad)
    manager.delete_message(conversation_id, CUSTOMER, first)
    conversation = manager.load_conversation(conversation_id, CUSTOMER)
    assert [m.text for m in conversation.messages] == [f"walrus {i}" for i in range(1, 6)]
    assert conversation.message_count == 5
    assert 0 <= conversation.total_tokens <= 18
    manager.close()


UNREADABLE = ["blob of its JSON", "array", "unknown role", "null", "not JSON", "deeply nested"]


@pytest.mark.parametrize(("backend", "bad"), cases(UNREADABLE), indirect=["backend"])
def test_a_load_names_the_conversation_it_cannot_read(backend: Backend, bad: str) -> None:
    manager, conversation_id, _ = _file(backend, bad)
    if bad == "blob of its JSON":  # the same JSON as bytes: it is read as it is
        assert len(manager.load_conversation(conversation_id, CUSTOMER).messages) == 6
        return
    with pytest.raises(InvalidInputError, match=conversation_id):
        manager.load_conversation(conversation_id, CUSTOMER)
    manager.close()
