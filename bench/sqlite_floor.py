"""The SQLite store against the speed of the disk: raw stdlib floors and ours, in one run.

    python -m bench.sqlite_floor       # this suite alone (~30 s), prints the ratio table

The floor is plain stdlib `sqlite3` in WAL mode: one row per message, one transaction per
append, nothing else (no validation, no ids, no counters, no search). The schema floor is the
same stdlib `sqlite3` on our store's own schema, running our store's statements for an append
(the row with its id and JSON body, the counters and the listing order), with foreign keys
checked as the store checks them, and returning the bodies undecoded: what the disk costs with
the features kept, and no Python work of ours. Ours
is `SQLiteStore` through the public `ConversationManager`. Every subject runs the same
workload on a fresh file: `MESSAGES` appends of 200-character messages to one conversation,
one call at a time, in `ROUNDS` rounds that the subjects take turns at; loads of all of them
and of the last `WINDOW`, the subjects again taking turns; then `WRITERS` threads appending to
their own conversations, each after one untimed append that opens its connection.
`make bench` (`bench.run`) runs this suite too, and docs/benchmarks.md shows its ratios.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from conversation_store import ConversationManager, SQLiteStore
from conversation_store.ids import new_conversation_id, new_message_id
from conversation_store.stores.sqlite.migrations import SEQ_SPAN
from conversation_store.stores.sqlite.rows import now

from .stats import quantile, summarize
from .workload import message_text, role_of, tokens_of

Record = dict[str, Any]
Synchronous = Literal["FULL", "NORMAL"]
MESSAGES = 10_000
LENGTH = 200
WINDOW = 50
LOAD_REPETITIONS = 9
WRITERS = 4
APPENDS_PER_WRITER = 1_000
# The subjects take turns at the single-writer appends, a round each, so that a slow spell of
# this shared machine falls on all of them rather than on one.
ROUNDS = 5


class Subject(Protocol):
    """What the suite measures: the same four calls on a floor and on our store."""

    def new_conversation(self, owner: str) -> str: ...
    def append(self, owner: str, conversation_id: str, role: str, text: str) -> None: ...
    def load(self, owner: str, conversation_id: str) -> object: ...
    def last(self, owner: str, conversation_id: str, count: int) -> object: ...
    def close(self) -> None: ...


class _Connections:
    """One stdlib connection per thread (WAL, the given `synchronous`), all closed by close()."""

    def __init__(self, path: Path, synchronous: Synchronous, *, foreign_keys: bool = False) -> None:
        self._path = path
        self._synchronous = synchronous
        self._foreign_keys = foreign_keys
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {self._synchronous}")
            db.execute(f"PRAGMA foreign_keys = {'ON' if self._foreign_keys else 'OFF'}")
            with self._lock:
                self._all.append(db)
            self._local.db = db
        return db

    def close(self) -> None:
        for db in self._all:
            db.close()


class Floor(_Connections):
    """Plain stdlib sqlite3: one row per message, one `BEGIN IMMEDIATE` transaction per append."""

    def __init__(self, path: Path, synchronous: Synchronous) -> None:
        super().__init__(path, synchronous)
        self._next = 0
        self._db().executescript(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, "
            "conversation_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, "
            "created_at TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, id);"
        )

    def new_conversation(self, owner: str) -> str:
        with self._lock:
            self._next += 1
            return f"c_{self._next}"

    def append(self, owner: str, conversation_id: str, role: str, text: str) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
            (conversation_id, role, text, time.strftime("%Y-%m-%dT%H:%M:%SZ")),
        )
        db.execute("COMMIT")

    def load(self, owner: str, conversation_id: str) -> object:
        return (
            self._db()
            .execute(
                "SELECT role, content, created_at FROM messages WHERE conversation_id = ? "
                "ORDER BY id",
                (conversation_id,),
            )
            .fetchall()
        )

    def last(self, owner: str, conversation_id: str, count: int) -> object:
        return (
            self._db()
            .execute(
                "SELECT role, content, created_at FROM messages WHERE conversation_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (conversation_id, count),
            )
            .fetchall()[::-1]
        )


class SchemaFloor(_Connections):
    """Stdlib sqlite3 on the file `SQLiteStore` made, running its statements for an append,
    with the foreign keys checked as the store checks them."""

    def __init__(self, path: Path, synchronous: Synchronous) -> None:
        SQLiteStore(path).close()  # the schema, by our own migrations
        super().__init__(path, synchronous, foreign_keys=True)

    def new_conversation(self, owner: str) -> str:
        conversation_id = new_conversation_id()
        stamp = now()
        db = self._db()
        db.execute("UPDATE conversation_numbering SET last_number = last_number + 1")
        db.execute(
            "INSERT INTO conversations (customer_id, id, created_at, updated_at, number) "
            "VALUES (?, ?, ?, ?, (SELECT last_number FROM conversation_numbering))",
            (owner, conversation_id, stamp, stamp),
        )
        return conversation_id

    def append(self, owner: str, conversation_id: str, role: str, text: str) -> None:
        message_id = new_message_id()
        stamp = now()
        body = json.dumps(
            {
                "id": message_id,
                "role": role,
                "content": text,
                "timestamp": stamp,
                "tokens": tokens_of(text),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        key = (owner, conversation_id)
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        number, next_seq = db.execute(
            "SELECT number, next_seq FROM conversations WHERE customer_id = ? AND id = ?", key
        ).fetchone()
        db.execute(
            "INSERT INTO messages (rowid, conversation, body) VALUES (?, ?, ?) "
            "ON CONFLICT (conversation, id) DO NOTHING",
            (number * SEQ_SPAN + next_seq, number, body),
        )
        db.execute(
            "UPDATE conversations SET next_seq = next_seq + 1, message_count = message_count + 1, "
            "total_tokens = total_tokens + ?, version = version + 1, updated_at = ? "
            "WHERE customer_id = ? AND id = ?",
            (tokens_of(text), stamp, *key),
        )
        db.execute("COMMIT")

    def load(self, owner: str, conversation_id: str) -> object:
        return self._bodies(owner, conversation_id, "ORDER BY rowid", ())

    def last(self, owner: str, conversation_id: str, count: int) -> object:
        return self._bodies(owner, conversation_id, "ORDER BY rowid DESC LIMIT ?", (count,))[::-1]

    def _bodies(
        self, owner: str, conversation_id: str, order: str, params: tuple[int, ...]
    ) -> list[Any]:
        db = self._db()
        (number,) = db.execute(
            "SELECT number FROM conversations WHERE customer_id = ? AND id = ?",
            (owner, conversation_id),
        ).fetchone()
        return db.execute(
            f"SELECT body FROM messages WHERE rowid >= ? AND rowid < ? {order}",
            (number * SEQ_SPAN, (number + 1) * SEQ_SPAN, *params),
        ).fetchall()


class Ours:
    """`SQLiteStore` through the public manager, as an application calls it."""

    def __init__(self, path: Path, synchronous: Synchronous) -> None:
        self._store = SQLiteStore(path, synchronous=synchronous)
        self._manager = ConversationManager(self._store)

    def new_conversation(self, owner: str) -> str:
        doc = self._manager.create_conversation_document(owner, "bench")
        self._manager.save_conversation(doc)
        return doc.id

    def append(self, owner: str, conversation_id: str, role: str, text: str) -> None:
        # The caller passes the token count (as from a model's usage), as bench/sqlite_suite.py
        # does; counting it here would time tiktoken, not the store.
        self._manager.append_message(conversation_id, owner, role, text, tokens=tokens_of(text))

    def load(self, owner: str, conversation_id: str) -> object:
        return self._manager.load_conversation(conversation_id, owner)

    def last(self, owner: str, conversation_id: str, count: int) -> object:
        return self._manager.get_history(conversation_id, owner, max_messages=count)

    def close(self) -> None:
        self._store.close()


SUBJECTS: dict[str, Callable[[Path], Subject]] = {
    "floor_full": lambda path: Floor(path, "FULL"),
    "floor_normal": lambda path: Floor(path, "NORMAL"),
    "schema_floor_full": lambda path: SchemaFloor(path, "FULL"),
    "ours_full": lambda path: Ours(path, "FULL"),
    "ours_normal": lambda path: Ours(path, "NORMAL"),
}


def texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [message_text(rng, LENGTH) for _ in range(count)]


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def appends_record(samples: list[float], per_round: int) -> Record:
    """Figures of one subject's single-writer appends, timed one call at a time in rounds."""
    rounds = [samples[i : i + per_round] for i in range(0, len(samples), per_round)]
    return {
        "appends": len(samples),
        # The median round: a slow spell of the machine during one round does not count.
        "appends_per_second": statistics.median(len(r) / (sum(r) / 1000) for r in rounds),
        "p50_ms": quantile(samples, 0.5),
        "p99_ms": quantile(samples, 0.99),
        "max_ms": max(samples),
    }


def writers(subject: Subject, appends_per_writer: int, seed: int) -> Record:
    owners = [f"writer-{seed}-{i}" for i in range(WRITERS)]
    ids = [subject.new_conversation(owner) for owner in owners]
    barrier = threading.Barrier(WRITERS + 1)
    errors: list[str] = []

    def write(index: int) -> None:
        warm_up, *batch = texts(100 * seed + index, appends_per_writer + 1)
        # Untimed: the thread's first append opens its connection.
        subject.append(owners[index], ids[index], role_of(0), warm_up)
        barrier.wait()
        for n, text in enumerate(batch, start=1):
            try:
                subject.append(owners[index], ids[index], role_of(n), text)
            except Exception as exc:  # counted below, not raised
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "appends_per_second": WRITERS * appends_per_writer / seconds,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def turns(round_: int) -> list[str]:
    """The subjects in the order they take their turn in a round, rotated round by round."""
    names = list(SUBJECTS)
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def single_writer_and_loads(directory: Path, log: Callable[[str], None]) -> dict[str, Record]:
    """Every subject on its own fresh file, taking turns: `ROUNDS` rounds of appends, then the
    loads, one repetition of each subject after another; the files' sizes once closed."""
    subjects = {name: make(directory / f"{name}.db") for name, make in SUBJECTS.items()}
    samples: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    full: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    window: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    batch = texts(1, MESSAGES)
    per_round = MESSAGES // ROUNDS
    try:
        conversations = {name: s.new_conversation("solo") for name, s in subjects.items()}
        for round_ in range(ROUNDS):
            log(f"sqlite floor: appends, round {round_ + 1} of {ROUNDS}")
            for name in turns(round_):
                subject, conversation_id = subjects[name], conversations[name]
                for n in range(round_ * per_round + 1, (round_ + 1) * per_round + 1):
                    started = time.perf_counter()
                    subject.append("solo", conversation_id, role_of(n), batch[n - 1])
                    samples[name].append((time.perf_counter() - started) * 1000)
        log("sqlite floor: loads")
        # Full loads first, then windows: a window read right after a 10,000-message load
        # would time the caches that load emptied.
        for _ in range(LOAD_REPETITIONS):
            for name, subject in subjects.items():
                full[name].append(timed_ms(partial(subject.load, "solo", conversations[name])))
        for _ in range(LOAD_REPETITIONS):
            for name, subject in subjects.items():
                window[name].append(
                    timed_ms(partial(subject.last, "solo", conversations[name], WINDOW))
                )
    finally:
        for subject in subjects.values():
            subject.close()
    return {
        name: {
            "one_writer": appends_record(samples[name], per_round),
            "full_ms": summarize(full[name]),
            "last_ms": summarize(window[name]),
            # After the last connection's checkpoint.
            "file_bytes": (directory / f"{name}.db").stat().st_size,
        }
        for name in SUBJECTS
    }


def many_writers(directory: Path, log: Callable[[str], None]) -> dict[str, Record]:
    """`WRITERS` threads on each subject's file, one subject after another. Not in short
    rounds: a stdlib writer that finds the file locked sleeps in SQLite's busy handler (up to
    100 ms a time), and one such sleep at the end of a short round would count against it."""
    records: dict[str, Record] = {}
    for name, make in SUBJECTS.items():
        log(f"sqlite floor: {WRITERS} writers, {name}")
        subject = make(directory / f"{name}.db")
        try:
            records[name] = {"writers": WRITERS, **writers(subject, APPENDS_PER_WRITER, 1)}
        finally:
            subject.close()
    return records


def run(directory: Path, log: Callable[[str], None]) -> Record:
    results: Record = {
        "messages": MESSAGES,
        "length": LENGTH,
        "window": WINDOW,
        "writers": WRITERS,
        "appends_per_writer": APPENDS_PER_WRITER,
        "rounds": ROUNDS,
    }
    records = single_writer_and_loads(directory, log)
    for name, record in many_writers(directory, log).items():
        records[name]["writers"] = record
    return {**results, **records}


def ratio_rows(results: Record) -> list[tuple[str, ...]]:
    """Rows of the ratio table: measure, ours FULL, ours NORMAL, floor FULL, floor NORMAL,
    schema floor FULL, ours FULL ÷ floor FULL, schema floor ÷ floor (FULL), target."""
    subjects = ("ours_full", "ours_normal", "floor_full", "floor_normal", "schema_floor_full")
    # Results saved before the schema floor joined the run render it as "—".
    absent: Record = {"one_writer": {}, "writers": {}, "full_ms": {}, "last_ms": {}}
    measures: list[tuple[str, Callable[[Record], float], str, str, Callable[[float], bool]]] = [
        (
            "appends/s, 1 writer",
            lambda r: r["one_writer"]["appends_per_second"],
            "{:,.0f}",
            "≥ 0.6x",
            lambda x: x >= 0.6,
        ),
        (
            f"appends/s, {results['writers']} writers",
            lambda r: r["writers"]["appends_per_second"],
            "{:,.0f}",
            "≥ 0.6x",
            lambda x: x >= 0.6,
        ),
        (
            "append p99, ms (1 writer)",
            lambda r: r["one_writer"]["p99_ms"],
            "{:.3f}",
            "—",
            lambda x: True,
        ),
        (
            f"load all {results['messages']:,}, ms",
            lambda r: r["full_ms"]["median"],
            "{:.2f}",
            "≤ 2x",
            lambda x: x <= 2,
        ),
        (
            f"load the last {results['window']}, ms",
            lambda r: r["last_ms"]["median"],
            "{:.3f}",
            "≤ 3x",
            lambda x: x <= 3,
        ),
        (
            f"file after {results['messages']:,} messages, MiB",
            lambda r: r["file_bytes"] / 2**20,
            "{:.2f}",
            "≤ 1.5x",
            lambda x: x <= 1.5,
        ),
    ]
    rows = []
    for label, value, fmt, target, met in measures:
        figures = [_figure(value, results.get(s, absent)) for s in subjects]
        ours, floor, schema = figures[0], figures[2], figures[4]
        assert ours is not None and floor is not None
        ratio = ours / floor
        status = "—" if target == "—" else ("✅" if met(ratio) else "❌")
        rows.append(
            (
                label,
                *("—" if f is None else fmt.format(f) for f in figures),
                f"{ratio:.2f}x",
                "—" if schema is None else f"{schema / floor:.2f}x",
                f"{target} {status}",
            )
        )
    return rows


def _figure(value: Callable[[Record], float], record: Record) -> float | None:
    try:
        return value(record)
    except KeyError:
        return None


RATIO_HEADER = (
    "Measure",
    "ours, FULL",
    "ours, NORMAL",
    "floor, FULL",
    "floor, NORMAL",
    "schema floor, FULL",
    "ours ÷ floor (FULL)",
    "schema floor ÷ floor (FULL)",
    "target",
)


def ratio_table(results: Record) -> str:
    rows = [RATIO_HEADER, *ratio_rows(results)]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(RATIO_HEADER))
    return "\n".join(lines)


def main() -> None:
    import tempfile

    from .run import log

    with tempfile.TemporaryDirectory(prefix="bench-floor-") as name:
        results = run(Path(name), log)
    print(ratio_table(results))


if __name__ == "__main__":
    main()
