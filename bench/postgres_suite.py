"""PostgreSQL store against a raw psycopg floor, on one throwaway local server, in one run.

    python -m bench.postgres_suite     # prints the ratio table (docs/benchmarks.md has a run)

The floor is what the store's append cannot beat by much: one INSERT per message, one
transaction each, on the same server. Ratios are store/floor for appends/s (higher is better)
and floor/store for reads (1.0 = as fast as the floor). Appends/s is the median of `ROUNDS`
alternating floor/store rounds; each read time, the median of `READS` reads.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conversation_store import ConversationManager
from conversation_store.ids import new_message_id
from conversation_store.models import ConversationKey, Message
from conversation_store.stores.postgres.store import PostgresStore
from support.postgres_server import PostgresServer, fresh_schema_url

APPENDS = 400
LOAD = 10_000
ROUNDS = 3
READS = 9


def _floor_appends(url: str, writers: int) -> float:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE IF NOT EXISTS floor (id text PRIMARY KEY, body text)")

    def write(w: int) -> None:
        with psycopg.connect(url, autocommit=True) as db:
            for _ in range(APPENDS // writers):
                with db.transaction():
                    db.execute("INSERT INTO floor VALUES (%s, %s)", (new_message_id(), "hi"))

    return _rate(write, writers)


def _store_appends(manager: ConversationManager, writers: int) -> float:
    ids = [
        manager.save_conversation(manager.create_conversation_document("b", "s")).id
        for _ in range(writers)
    ]
    for conversation_id in ids:  # steady state: the tokenizer loaded, the statement prepared
        manager.append_message(conversation_id, "b", "user", "warm up")

    def write(w: int) -> None:
        for n in range(APPENDS // writers):
            manager.append_message(ids[w], "b", "user", f"hello {n}")

    return _rate(write, writers)


def _rate(write: object, writers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))  # type: ignore[arg-type]
    return (APPENDS // writers * writers) / (time.perf_counter() - start)


def _timed(call: object) -> float:
    """The median of `READS` timed calls: one read alone is as noisy as the machine."""
    samples = []
    for _ in range(READS):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    with PostgresServer() as server:
        url, _ = fresh_schema_url(server.url)
        store = PostgresStore(url, max_size=8)
        manager = ConversationManager(store)
        rows = []
        for writers in (1, 4):
            # Alternating rounds, the median of each: a shared machine's noise hits both sides.
            runs = [
                (_floor_appends(url, writers), _store_appends(manager, writers))
                for _ in range(ROUNDS)
            ]
            floor = statistics.median(f for f, _ in runs)
            ours = statistics.median(o for _, o in runs)
            rows.append((f"appends/s, {writers} writer(s)", ours, floor, ours / floor))
        big = manager.save_conversation(manager.create_conversation_document("big", "s"))
        for start in range(0, LOAD, 500):
            batch = [
                Message(id=new_message_id(), role="user", content=f"message {n} about Tokyo")
                for n in range(start, start + 500)
            ]
            store.append_messages(_key(big.id), batch)
        with psycopg.connect(url) as db:
            db.execute("CREATE TABLE floor_big AS SELECT body FROM messages")
            floor_load = _timed(lambda: db.execute("SELECT body FROM floor_big").fetchall())
        key_load = _timed(lambda: store.get_conversation(_key(big.id)))
        rows.append((f"load {LOAD} messages, s", key_load, floor_load, floor_load / key_load))
        rows.append(
            ("last 50, s", _timed(lambda: store.get_conversation(_key(big.id), last=50)), 0, 0)
        )
        rows.append(("list 20, s", _timed(lambda: store.list_conversations("b", limit=20)), 0, 0))
        rows.append(
            ("search, s", _timed(lambda: store.search_messages("big", query="tok", limit=20)), 0, 0)
        )
        store.close()
    print("| measure | store | floor | ratio |\n|---|---|---|---|")
    for name, ours, floor, ratio in rows:
        print(
            f"| {name} | {ours:.4g} | {floor:.4g} | {ratio:.2f} |"
            if floor
            else f"| {name} | {ours:.4g} | | |"
        )


def _key(conversation_id: str) -> ConversationKey:
    return ConversationKey("big", conversation_id)


if __name__ == "__main__":
    main()
