"""Group commit (`stores/sqlite/group_commit.py`) on a real SQLite file: the writes queued
behind a leader share its transaction; a write that raises is rolled back alone; a failed
transaction fails every write of its batch and stores none; nobody is left waiting."""

from __future__ import annotations

import os
import signal
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
from conversation_store.stores.sqlite import group_commit
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


class Interrupted(BaseException):
    """What the test's SIGINT handler raises in the main thread, as KeyboardInterrupt would."""


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted


@contextmanager
def interruptible() -> Iterator[Callable[[], None]]:
    """SIGINT raises Interrupted in the main thread (the one running the test); yields a call
    that sends SIGINT once the main thread waits inside `group`."""
    previous = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        yield lambda: os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_when_waiting(group: GroupCommit, queued: int, interrupt: Callable[[], None]) -> None:
    """From another thread: once `queued` writes are queued and the main thread has let go of
    the queue's lock (it waits), interrupt it."""
    wait_for(lambda: len(group._queue) == queued)
    with group._changed:
        pass
    interrupt()


def test_a_writer_interrupted_before_any_batch_took_it_is_withdrawn(
    transactions: Transactions,
) -> None:
    group = GroupCommit(transactions)
    leader = threading.Thread(target=group.run, args=(insert(1),))
    with interruptible() as interrupt, transactions.gate:
        leader.start()
        wait_for(lambda: group._leading)  # the leader waits for its transaction to begin
        sender = threading.Thread(target=interrupt_when_waiting, args=(group, 2, interrupt))
        sender.start()
        with pytest.raises(Interrupted):
            group.run(insert(2))
        sender.join()
    leader.join(timeout=30)
    assert not leader.is_alive()
    group.run(insert(3))  # nobody waits for a leader that is gone
    assert transactions.values() == [1, 3]
    assert group._queue == []


def test_a_writer_interrupted_after_a_batch_took_it_is_run_by_that_batch(
    transactions: Transactions,
) -> None:
    """The interrupted write is in the running batch, and a third one queued behind it is not:
    the batch runs the interrupted write (its caller cannot know, as after a lost reply), and
    the third is neither dropped nor run twice."""
    group = GroupCommit(transactions)
    release = threading.Event()
    later = threading.Thread(target=group.run, args=(insert(4),))

    def slow_first(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO rows (value) VALUES (1)")
        release.wait(timeout=30)

    def open_gate_then_interrupt(interrupt: Callable[[], None]) -> None:
        wait_for(lambda: len(group._queue) == 2)
        with group._changed:  # the main thread waits
            pass
        transactions.gate.release()
        wait_for(lambda: group._taken == 2)  # the batch holds the first two writes
        later.start()
        interrupt_when_waiting(group, 3, interrupt)

    leader = threading.Thread(target=group.run, args=(slow_first,))
    with interruptible() as interrupt:
        transactions.gate.acquire()
        leader.start()
        wait_for(lambda: group._leading)
        helper = threading.Thread(target=open_gate_then_interrupt, args=(interrupt,))
        helper.start()
        with pytest.raises(Interrupted):
            group.run(insert(2))
        helper.join()
    release.set()
    for thread in (leader, later):
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert transactions.values() == [1, 2, 4]
    assert group._queue == []
    group.run(insert(3))
    assert transactions.values() == [1, 2, 3, 4]


def test_one_message_id_appended_by_many_threads_at_once_is_stored_once(tmp_path: Path) -> None:
    """Retries of one append from several threads land in one batch or in several: the id
    is stored once and counted once, and every caller is told it is stored."""
    threads_count = 8
    with ConversationManager(SQLiteStore(tmp_path / "once.db")) as manager:
        conversation = manager.create_conversation_document("u", "s")
        manager.save_conversation(conversation)
        barrier = threading.Barrier(threads_count)
        answers: list[list[str]] = []

        def append() -> None:
            barrier.wait()
            result = manager.append_message(
                conversation.id, "u", "user", "hello", tokens=3, message_id="m-once"
            )
            answers.append(result.message_ids)

        threads = [threading.Thread(target=append) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive()
        loaded = manager.load_conversation(conversation.id, "u")
        assert [m.id for m in loaded.messages] == ["m-once"]
        assert (loaded.message_count, loaded.total_tokens) == (1, 3)
        assert answers == [["m-once"]] * threads_count


def test_a_leader_behind_a_full_batch_runs_the_writes_before_it_with_its_own(
    transactions: Transactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer leads when no batch runs, wherever its write is in the queue: its batch goes
    past `MAX_BATCH` up to its own write, so the leader's call returns with its write done,
    and a failure of that transaction reaches the leader's thread rather than only others."""
    monkeypatch.setattr(group_commit, "MAX_BATCH", 1)
    group = GroupCommit(transactions)
    ahead = group_commit._Write(raising_after_insert(1, KeyboardInterrupt()))
    group._queue.append(ahead)  # queued by a thread that has not woken yet
    with pytest.raises(KeyboardInterrupt):
        group.run(insert(2))
    assert isinstance(ahead.error, StoreUnavailableError)
    assert (transactions.values(), transactions.begun, group._queue) == ([], 1, [])
    group._queue.append(group_commit._Write(insert(3)))
    group.run(insert(4))
    assert (transactions.values(), transactions.begun) == ([3, 4], 2)
