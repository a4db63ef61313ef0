"""Group commit (`stores/sqlite/group_commit.py`) on a real SQLite file: the writes queued
behind a leader share its transaction; a write that raises is rolled back alone; a failed
transaction fails every write of its batch and stores none; nobody is left waiting."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    SQLiteStore,
    StoreClosedError,
    StoreUnavailableError,
)
from conversation_store.stores.sqlite.group_commit import GroupCommit, Work

WRITES = 5


class Transactions:
    """`BEGIN IMMEDIATE` ... `COMMIT` on one connection, counted; `gate` held by a test keeps
    the leader from beginning, so that the other writes queue behind it."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
            "CREATE TABLE rows (value INTEGER NOT NULL, parent INTEGER "
            "REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);"
        )
        self.gate = threading.Lock()
        self.begun = 0

    @contextmanager
    def __call__(self) -> Iterator[sqlite3.Connection]:
        with self.gate:
            self.db.execute("BEGIN IMMEDIATE")
            self.begun += 1
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def values(self) -> list[int]:
        return sorted(v for (v,) in self.db.execute("SELECT value FROM rows"))


@pytest.fixture
def transactions(tmp_path: Path) -> Iterator[Transactions]:
    made = Transactions(tmp_path / "group.db")
    yield made
    made.db.close()


def statement(sql: str, *params: object) -> Work:
    def work(db: sqlite3.Connection) -> None:
        db.execute(sql, params)

    return work


def insert(value: int) -> Work:
    return statement("INSERT INTO rows (value) VALUES (?)", value)


def raising_after_insert(value: int, error: BaseException) -> Work:
    def work(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO rows (value) VALUES (?)", (value,))
        raise error

    return work


def queued_together(
    group: GroupCommit, transactions: Transactions, works: list[Work]
) -> list[BaseException | None]:
    """Run each work from a thread of its own, all queued before the first one begins its
    transaction; what each call raised (None: it returned)."""
    outcomes: list[BaseException | None] = [None] * len(works)

    def call(index: int) -> None:
        try:
            group.run(works[index])
        except BaseException as exc:  # recorded for the test to check
            outcomes[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    with transactions.gate:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(group._queue) == len(works))
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a writer was left waiting"
    return outcomes


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the writers did not queue"
        time.sleep(0.001)


def test_writes_queued_behind_the_leader_commit_in_its_transaction(
    transactions: Transactions,
) -> None:
    group = GroupCommit(transactions)
    outcomes = queued_together(group, transactions, [insert(i) for i in range(WRITES)])
    assert outcomes == [None] * WRITES
    assert transactions.values() == list(range(WRITES))
    assert transactions.begun == 1


def test_a_lone_write_is_its_own_transaction(transactions: Transactions) -> None:
    group = GroupCommit(transactions)
    for value in range(3):
        group.run(insert(value))
    assert transactions.values() == [0, 1, 2]
    assert transactions.begun == 3


@pytest.mark.parametrize("failing", [0, 2, WRITES - 1], ids=["leader", "middle", "last"])
def test_a_write_that_raises_is_rolled_back_alone(
    transactions: Transactions, failing: int
) -> None:
    group = GroupCommit(transactions)
    error = ConversationNotFoundError("c", "u")
    works = [insert(i) for i in range(WRITES)]
    works[failing] = raising_after_insert(failing, error)
    outcomes = queued_together(group, transactions, works)
    assert outcomes == [error if i == failing else None for i in range(WRITES)]
    assert transactions.values() == [i for i in range(WRITES) if i != failing]
    assert transactions.begun == 1


# (which write, the work, what the thread running the batch raises, what the others name)
FAILED_TRANSACTIONS: dict[str, tuple[int, Callable[[], Work], type[BaseException], str]] = {
    # The statement passes; the COMMIT fails.
    "deferred foreign key": (
        2,
        lambda: statement("INSERT INTO rows (value, parent) VALUES (2, 99)"),
        sqlite3.IntegrityError,
        "FOREIGN KEY constraint failed",
    ),
    # SQLite rolls the whole transaction back: the others must name the full disk, not a
    # savepoint that is gone.
    "full disk": (
        3,
        lambda: statement("INSERT INTO rows (value) VALUES (zeroblob(1000000))"),
        sqlite3.OperationalError,
        "database or disk is full",
    ),
    "interrupt in the leader": (
        1,
        lambda: raising_after_insert(1, KeyboardInterrupt()),
        KeyboardInterrupt,
        "KeyboardInterrupt",
    ),
}


@pytest.mark.parametrize("case", FAILED_TRANSACTIONS)
def test_a_failed_transaction_fails_every_write_of_its_batch_and_stores_none(
    transactions: Transactions, case: str
) -> None:
    index, work, leader_error, named = FAILED_TRANSACTIONS[case]
    group = GroupCommit(transactions)
    (pages,) = transactions.db.execute("PRAGMA page_count").fetchone()
    transactions.db.execute(f"PRAGMA max_page_count = {pages + 4}")
    works = [insert(i) for i in range(WRITES)]
    works[index] = work()
    outcomes = queued_together(group, transactions, works)
    assert sum(isinstance(o, leader_error) for o in outcomes) == 1
    others = [o for o in outcomes if isinstance(o, StoreUnavailableError)]
    assert len(others) == WRITES - 1
    assert all(named in str(o) for o in others)
    assert transactions.values() == []
    group.run(insert(7))  # the connection is left with no transaction open
    assert transactions.values() == [7]


def test_writes_queued_when_the_store_closes_each_raise_store_closed(
    transactions: Transactions,
) -> None:
    class Refused:
        """A transaction of a closed store: it never begins."""

        def __enter__(self) -> sqlite3.Connection:
            with transactions.gate:
                raise StoreClosedError("SQLite store is closed")

        def __exit__(self, *exc: object) -> None:
            return None

    group = GroupCommit(Refused)
    outcomes = queued_together(group, transactions, [insert(i) for i in range(WRITES)])
    assert all(isinstance(o, StoreClosedError) for o in outcomes)
    assert group._queue == []
    assert transactions.values() == []


def test_concurrent_appends_to_a_real_store_are_each_stored_once_in_order(
    tmp_path: Path,
) -> None:
    """Writers of their own conversations, two writers sharing one, and one writer of a
    missing conversation, at synchronous=FULL: every acknowledged append is there once, in
    each writer's order, with the counters true; the missing one is a typed error each time."""
    appends = 40
    with ConversationManager(SQLiteStore(tmp_path / "store.db")) as manager:
        ids = []
        for _ in range(4):
            conversation = manager.create_conversation_document("u", "s")
            manager.save_conversation(conversation)
            ids.append(conversation.id)
        targets = [ids[0], ids[1], ids[2], ids[3], ids[3], "missing"]
        missing_errors: list[BaseException] = []
        barrier = threading.Barrier(len(targets))

        def write(writer: int) -> None:
            barrier.wait()
            for n in range(appends):
                try:
                    manager.append_message(
                        targets[writer], "u", "user", f"w{writer} n{n}", message_id=f"w{writer}-{n}"
                    )
                except ConversationNotFoundError as exc:
                    missing_errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(targets))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive()
        assert len(missing_errors) == appends
        for writer in range(4):
            loaded = manager.load_conversation(ids[writer], "u")
            texts = [m.content for m in loaded.messages]
            expected_writers = [writer] if writer < 3 else [3, 4]
            for expected in expected_writers:
                mine = [t for t in texts if isinstance(t, str) and t.startswith(f"w{expected} ")]
                assert mine == [f"w{expected} n{n}" for n in range(appends)]
            assert loaded.message_count == len(texts) == appends * len(expected_writers)


def test_a_full_disk_during_an_append_is_named_and_the_store_goes_on(tmp_path: Path) -> None:
    """SQLite has rolled the transaction back by the time the store would: the error names
    the full disk (not a failed ROLLBACK), nothing is stored, and the next append works."""
    store = SQLiteStore(tmp_path / "full.db")
    with ConversationManager(store) as manager:
        conversation = manager.create_conversation_document("u", "s")
        manager.save_conversation(conversation)
        with store._connections.session() as db:  # this thread's connection, the appender's
            (pages,) = db.execute("PRAGMA page_count").fetchone()
            db.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(StoreUnavailableError, match="database or disk is full"):
            manager.append_message(conversation.id, "u", "user", "x" * 200_000)
        assert manager.load_conversation(conversation.id, "u").message_count == 0
        with store._connections.session() as db:
            db.execute(f"PRAGMA max_page_count = {2**30}")
        manager.append_message(conversation.id, "u", "user", "hello")
        assert [m.content for m in manager.load_conversation(conversation.id, "u").messages] == [
            "hello"
        ]
