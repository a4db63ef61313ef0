"""Figures of the issue 6 features: SQLite search, and migrating SQLite to Cosmos DB.

    python -m bench.features              # ~2 minutes on 2 cores
    BENCH_FEATURES_CONVERSATIONS=200 python -m bench.features    # a quick smoke run

Search: one customer's SQLite file of `conversations` x 100 messages of benchmark text (every
message holds many of the same ~100 words: a worst case for an inverted index), each query
timed 20 times. Migration: 500 ten-message conversations from SQLite into the local
Cosmos-compatible server, then a re-run (everything unchanged), then a catch-up run after 50
of them were renamed and given one more message in the source.

Writes `bench/results/features-<date>.json` and prints a table; quote it with this command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from conversation_store import ConversationManager, CosmosStore, SQLiteStore
from conversation_store.transfer import TransferReport, transfer

from .run import REPO, RESULTS, LocalCosmosServer, log, machine, rounded
from .sqlite_suite import timed
from .stats import summarize
from .workload import TextSource, prebuilt_conversation

MESSAGES_PER_CONVERSATION = 100
QUERY_REPETITIONS = 20
# A word in most messages, a rarer one, two words, a prefix, and a word in none.
QUERIES = ("the", "itinerary", "Tokyo temple", "recomm", "zanzibar")
MIGRATED_CONVERSATIONS = 500
MIGRATED_MESSAGES = 10
CHANGED_IN_SOURCE = 50


def search_figures(directory: Path, conversations: int) -> dict[str, Any]:
    texts = TextSource()
    with SQLiteStore(directory / "search.db") as store:
        manager = ConversationManager(store)
        started = time.perf_counter()
        for n in range(conversations):
            store.create_conversation(
                prebuilt_conversation("alice", f"c_{n:06d}", MESSAGES_PER_CONVERSATION, texts)
            )
        fill_seconds = time.perf_counter() - started
        queries = {}
        for query in QUERIES:
            hits = len(manager.search_conversations("alice", query))
            samples = [
                timed(lambda q=query: manager.search_conversations("alice", q))
                for _ in range(QUERY_REPETITIONS)
            ]
            queries[query] = {"hits": hits, "ms": summarize(samples)}
    return {
        "messages": conversations * MESSAGES_PER_CONVERSATION,
        "fill_seconds": fill_seconds,
        "queries": queries,
    }


def migration_figures(directory: Path) -> dict[str, Any]:
    source_path = directory / "migrate.db"
    texts = TextSource()
    with SQLiteStore(source_path) as store:
        for n in range(MIGRATED_CONVERSATIONS):
            store.create_conversation(
                prebuilt_conversation(f"user_{n % 20}", f"c_{n:06d}", MIGRATED_MESSAGES, texts)
            )
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    runs: dict[str, Any] = {}
    with LocalCosmosServer() as server, SQLiteStore(source_path) as source:
        log(f"local Cosmos server pid {server.pid} on {server.endpoint}")
        target = CosmosStore.from_endpoint(
            server.endpoint,
            credential=server.key,
            database="bench",
            container="features",
            create_if_missing=True,
            connection_verify=False,
        )
        with ConversationManager(target, owns_store=True) as manager:
            runs["first"] = timed_run(source, manager)
            runs["again"] = timed_run(source, manager)
            changer = ConversationManager(source)
            for n in range(CHANGED_IN_SOURCE):
                customer, conversation_id = f"user_{n % 20}", f"c_{n:06d}"
                changer.rename_conversation(conversation_id, customer, f"Renamed {n}")
                changer.append_message(conversation_id, customer, "user", "one more")
            runs["catch_up"] = timed_run(source, manager)
    return runs


def timed_run(source: SQLiteStore, target: ConversationManager) -> dict[str, Any]:
    started = time.perf_counter()
    report: TransferReport = transfer(source, target)
    seconds = time.perf_counter() - started
    if not report.succeeded:
        raise RuntimeError(f"the migration failed: {report.summary()}")
    visited = report.created + report.updated + report.unchanged
    return {"summary": report.summary(), "seconds": seconds, "per_second": visited / seconds}


def table(results: dict[str, Any]) -> str:
    search = results["search"]
    lines = [
        f"SQLite search, one customer, {search['messages']:,} messages "
        f"(filled in {search['fill_seconds']:.1f} s)",
        "| query | hits | median ms | p90 ms |",
        "|---|---|---|---|",
    ]
    for query, figures in search["queries"].items():
        ms = figures["ms"]
        lines.append(f"| `{query}` | {figures['hits']} | {ms['median']:.2f} | {ms['p90']:.2f} |")
    lines += [
        "",
        f"Migrate {MIGRATED_CONVERSATIONS} x {MIGRATED_MESSAGES}-message conversations, "
        "SQLite -> local Cosmos server",
        "| run | outcome | seconds | conversations/s |",
        "|---|---|---|---|",
    ]
    for name, run in results["migration"].items():
        lines.append(
            f"| {name} | {run['summary']} | {run['seconds']:.1f} | {run['per_second']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    conversations = int(os.environ.get("BENCH_FEATURES_CONVERSATIONS", "1000"))
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="bench-features-") as name:
        directory = Path(name)
        log(f"search: filling {conversations} x {MESSAGES_PER_CONVERSATION} messages")
        results["search"] = search_figures(directory, conversations)
        log(f"migrate: {MIGRATED_CONVERSATIONS} conversations to the local Cosmos server")
        results["migration"] = migration_figures(directory)
    RESULTS.mkdir(parents=True, exist_ok=True)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    path = RESULTS / f"features-{date}.json"
    path.write_text(json.dumps(rounded(results), indent=1) + "\n")
    log(f"wrote {path.relative_to(REPO)}")
    print(table(results))


if __name__ == "__main__":
    main()
