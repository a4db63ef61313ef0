"""The Cosmos DB measurements: `CosmosStore` against the local server, and the naive baseline.

Requests and bytes are counted at the HTTP transport (`CountingTransport`); times are wall
clock around one public call (`ConversationManager` method or baseline method).
"""

from __future__ import annotations

import contextlib
import copy
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosHttpResponseError

from conversation_store import ConversationManager, Message
from conversation_store.ids import new_message_id
from conversation_store.models import format_timestamp, utc_now
from conversation_store.stores.cosmos.config import PARTITION_KEY, client_options
from conversation_store.stores.cosmos.items import COSMOS_ITEM_LIMIT, SizeLimits, json_size
from conversation_store.stores.cosmos.store import CosmosStore

from .naive import NaiveConversationStore
from .scale import Scale
from .stats import summarize
from .transport import CountingTransport, Tally
from .workload import (
    LENGTHS,
    TextSource,
    message_text,
    prebuilt_conversation,
    role_of,
    tokens_of,
)

DATABASE = "bench"
BLOCK = 100  # appends per block in the growth series
Record = dict[str, Any]


def tally_record(tally: Tally, seconds: float) -> Record:
    record: Record = {
        "requests": tally.requests,
        "statuses": tally.statuses,
        "request_body_bytes": tally.request_body_bytes,
        "request_header_bytes": tally.request_header_bytes,
        "response_body_bytes": tally.response_body_bytes,
        "ms": seconds * 1000,
    }
    if tally.requests > 1:  # say what each request was
        record["exchanges"] = [
            {"method": e.method, "status": e.status, "request_body_bytes": e.request_body_bytes,
             "response_body_bytes": e.response_body_bytes}
            for e in tally.exchanges
        ]
    return record


def summarize_records(records: list[Record]) -> Record:
    """Median and spread of every measured quantity over repeated calls."""
    keys = ("requests", "request_body_bytes", "request_header_bytes", "response_body_bytes", "ms")
    summary: Record = {key: summarize([float(r[key]) for r in records]) for key in keys}
    summary["statuses"] = sorted({s for r in records for s in r["statuses"]})
    return summary


class CosmosBench:
    """One client (with the counting transport) over a fresh database on the local server."""

    def __init__(self, endpoint: str, key: str, scale: Scale, texts: TextSource) -> None:
        self.scale = scale
        self.texts = texts
        self.limits = SizeLimits()
        self.transport = CountingTransport(connection_verify=False)
        # One client (with the store's own client options) serves both our store and the naive
        # baseline, so a single counting transport sees the requests of both.
        self.client = CosmosClient(
            endpoint,
            credential=key,
            transport=self.transport,
            **client_options(connection_verify=False),
        )
        self.database: DatabaseProxy = self.client.create_database_if_not_exists(DATABASE)
        self.container = self._container("conversations")
        self.naive_container = self._container("naive")
        self.store = CosmosStore(self.container, limits=self.limits)
        self.manager = ConversationManager(self.store)
        self.naive = NaiveConversationStore(self.naive_container)

    def close(self) -> None:
        self.store.close()
        self.client.close()

    def _container(self, name: str) -> ContainerProxy:
        return self.database.create_container_if_not_exists(name, partition_key=PARTITION_KEY)

    @contextmanager
    def timed(self, label: str) -> Iterator[tuple[Tally, list[float]]]:
        """Count requests and time the block; the elapsed seconds land in the yielded list."""
        elapsed: list[float] = []
        with self.transport.measure(label) as tally:
            started = time.perf_counter()
            try:
                yield tally, elapsed
            finally:
                elapsed.append(time.perf_counter() - started)

    def measure(self, label: str, call: Callable[[], object]) -> Record:
        with self.timed(label) as (tally, elapsed):
            call()
        return tally_record(tally, elapsed[0])

    # -- the suite ----------------------------------------------------------------------

    def run(self, log: Callable[[str], None]) -> Record:
        self.warm_up()
        results: Record = {"limits": {"item_bytes": self.limits.item_bytes,
                                      "head_after_seal": self.limits.head_after_seal}}
        runs = []
        for run in range(self.scale.growth_runs):
            log(f"cosmos: growing conversation {run + 1}/{self.scale.growth_runs} "
                f"to {self.scale.last_message} messages, one append at a time")
            runs.append(self.grow(f"growth-{run}"))
        results["growth"] = pool_growth_runs(runs)
        log("cosmos: naive baseline (whole-document upsert per append)")
        results["naive"] = self.naive_appends()
        log(f"cosmos: list {self.scale.list_limit} of {self.scale.list_conversations}")
        results["list"] = self.list_recent()
        log(f"cosmos: {self.scale.writers} concurrent writers, "
            f"{self.scale.concurrent_rounds} rounds")
        results["concurrent"] = [
            self.concurrent_writers(r) for r in range(self.scale.concurrent_rounds)
        ]
        results["naive_concurrent"] = self.naive_concurrent_writers()
        log("cosmos: local server predicate-compile probe")
        results["server_probe"] = self.predicate_cache_probe()
        return results

    def warm_up(self) -> None:
        """Open the connection pool and fill the SDK's caches before anything is measured."""
        doc = self.manager.create_conversation_document("warm-up", "bench")
        self.manager.save_conversation(doc)
        # Every message length with every role: the server compiles each distinct predicate.
        rng = random.Random(0)
        for n, length in enumerate([*LENGTHS, *LENGTHS, *LENGTHS[:1]], start=1):
            text = message_text(rng, length)
            self.manager.append_message(doc.id, "warm-up", role_of(n), text,
                                        tokens=tokens_of(text))
        self.manager.load_conversation(doc.id, "warm-up")
        self.manager.get_recent_conversations("warm-up", limit=20)
        self.manager.delete_conversation(doc.id, "warm-up")

    # -- 1 and 3: one conversation grows one append at a time -------------------------------

    def append(self, conversation_id: str, customer_id: str, n: int, text: str) -> Record:
        with self.timed("append") as (tally, elapsed):
            self.manager.append_message(
                conversation_id, customer_id, role_of(n), text, tokens=tokens_of(text)
            )
        return tally_record(tally, elapsed[0])

    def grow(self, customer_id: str) -> Record:
        scale = self.scale
        doc = self.manager.create_conversation_document(customer_id, "bench", title="Growth")
        self.manager.save_conversation(doc)
        windows: dict[int, list[Record]] = {p: [] for p in scale.positions}
        loads: Record = {}
        series = GrowthSeries()
        started = time.perf_counter()
        for n in range(1, scale.last_message + 1):
            if n - 1 in scale.load_at:
                loads[str(n - 1)] = self.loads(doc.id, customer_id)
            position = window_start(n, scale)
            text = self.texts.window(n - position) if position else self.texts.filler()
            record = self.append(doc.id, customer_id, n, text)
            series.add(n, record)
            if position:
                windows[position].append({"message": n, **record})
        total_seconds = time.perf_counter() - started
        return {
            "messages": scale.last_message,
            "seconds_total": total_seconds,
            "windows": {str(p): w for p, w in windows.items()},
            "loads": loads,
            "series": series.to_json(),
            "items": self.item_sizes(customer_id),
        }

    def loads(self, conversation_id: str, customer_id: str) -> Record:
        """The recent window and the full conversation, several times each."""
        window = self.scale.window_messages
        recent = [
            self.measure(
                "load-window",
                lambda: self.manager.get_history(
                    conversation_id, customer_id, max_messages=window
                ),
            )
            for _ in range(self.scale.load_repetitions)
        ]
        full = [
            self.measure("load-full", lambda: self.manager.load_conversation(
                conversation_id, customer_id))
            for _ in range(self.scale.load_repetitions)
        ]
        return {"window": summarize_records(recent), "full": summarize_records(full)}

    def item_sizes(self, customer_id: str) -> Record:
        """Every item of the customer's partition, as stored (system properties included)."""
        items = list(
            self.container.query_items(
                "SELECT * FROM c WHERE c.customer_id = @c",
                parameters=[{"name": "@c", "value": customer_id}],
                partition_key=customer_id,
            )
        )
        heads = [json_size(i) for i in items if i.get("type") == "conversation"]
        segments = [json_size(i) for i in items if i.get("type") == "segment"]
        return {
            "count": len(items),
            "heads": len(heads),
            "segments": len(segments),
            "max_head_bytes": max(heads, default=0),
            "max_segment_bytes": max(segments, default=0),
            "max_head_bytes_field": max(
                (int(i.get("head_bytes", 0)) for i in items if i.get("type") == "conversation"),
                default=0,
            ),
        }

    def predicate_cache_probe(self, appends: int = 100) -> Record:
        """Append latency with a new message length every time vs the usual few lengths.

        The local server compiles each distinct filter predicate (and caches 100); the append
        predicate holds a number derived from the message size. This measures that artifact.
        """
        rng = random.Random(7)
        distinct = rng.sample(range(1000, 3000), appends)
        usual = [LENGTHS[i % len(LENGTHS)] for i in range(appends)]
        medians: Record = {}
        for label, lengths in (("distinct_lengths", distinct), ("usual_lengths", usual)):
            doc = self.manager.create_conversation_document(f"probe-{label}", "bench")
            self.manager.save_conversation(doc)
            samples = [
                self.append(doc.id, doc.customer_id, 1, message_text(rng, length))["ms"]
                for length in lengths
            ]
            medians[label] = summarize(samples)
        return medians

    # -- 2: the naive baseline --------------------------------------------------------------

    def naive_appends(self) -> Record:
        """At each position: seed a document of N-1 messages (one upsert), then measure appends."""
        windows: Record = {}
        for position in self.scale.positions:
            customer_id = f"naive-{position}"
            document = naive_document(customer_id, position - 1, self.texts)
            seed_status = 200
            try:
                with self.transport.measure("naive-seed"):
                    self.naive.create(document)
            except CosmosHttpResponseError as exc:
                seed_status = int(exc.status_code or 0)
            records = []
            for k in range(self.scale.repetitions):
                # Each repetition appends message N to the same N-1 messages.
                del document["messages"][position - 1 :]
                n = position
                message = message_document(n, self.texts.window(k))
                # A failure (413 past 2 MB) is recorded by its status.
                with (
                    self.timed("naive-append") as (tally, elapsed),
                    contextlib.suppress(CosmosHttpResponseError),
                ):
                    self.naive.append(document, message)
                records.append({"message": n, **tally_record(tally, elapsed[0])})
            windows[str(position)] = {"seed_status": seed_status, "appends": records}
        loads = {}
        for length in self.scale.load_at:
            loads[str(length)] = self.naive_load(length)
        return {
            "windows": windows,
            "loads": loads,
            "first_message_over_item_limit": first_message_over_limit(self.texts),
            "item_limit_bytes": COSMOS_ITEM_LIMIT,
        }

    def naive_load(self, length: int) -> Record:
        """Reading a naive conversation is one point read of the whole document, if it exists."""
        customer_id = f"naive-load-{length}"
        document = naive_document(customer_id, length, self.texts)
        try:
            self.naive.create(document)
        except CosmosHttpResponseError as exc:
            return {"stored": False, "status": exc.status_code}
        records = [
            self.measure("naive-load", lambda: self.naive.load(customer_id, document["id"]))
            for _ in range(self.scale.load_repetitions)
        ]
        return {"stored": True, **summarize_records(records)}

    # -- 4: list recent conversations ---------------------------------------------------------

    def list_recent(self) -> Record:
        scale = self.scale
        customer_id = "list-customer"
        seeded: list[str] = []
        started = time.perf_counter()
        for i in range(scale.list_conversations):
            conversation = prebuilt_conversation(customer_id, f"c_list_{i:05d}", 4, self.texts)
            self.store.create_conversation(conversation)
            seeded += [m.content or "" for m in conversation.messages]
        seed_seconds = time.perf_counter() - started
        self.transport.keep_bodies = True
        try:
            ours = [
                self.measure(
                    "list",
                    lambda: self.manager.get_recent_conversations(
                        customer_id, limit=scale.list_limit
                    ),
                )
                for _ in range(scale.list_repetitions)
            ]
            with self.transport.measure("list") as tally:
                page = self.manager.get_recent_conversations(customer_id, limit=scale.list_limit)
            naive = [
                self.measure(
                    "naive-list", lambda: self.naive_over_ours().list_recent(
                        customer_id, scale.list_limit)
                )
                for _ in range(scale.list_repetitions)
            ]
        finally:
            self.transport.keep_bodies = False
        bodies = b"".join(e.response_body for e in tally.exchanges)
        texts_found = sum(1 for text in seeded if text[:60].encode("utf-8") in bodies)
        return {
            "conversations": scale.list_conversations,
            "messages_per_conversation": 4,
            "seed_seconds": seed_seconds,
            "returned": len(page.items),
            "ours": summarize_records(ours),
            "naive_select_star": summarize_records(naive),
            "response_has_messages_key": b'"messages"' in bodies,
            "message_texts_in_response": texts_found,
        }

    def naive_over_ours(self) -> NaiveConversationStore:
        """The seed system's listing (`SELECT *`) over the same conversations."""
        return NaiveConversationStore(self.container)

    # -- 5: concurrent writers ----------------------------------------------------------------

    def concurrent_writers(self, round_number: int) -> Record:
        """One round: a fresh conversation near the head bound, then the writers at once."""
        scale = self.scale
        customer_id = f"concurrent-{round_number}"
        seed = prebuilt_conversation(
            customer_id, f"c_concurrent_{round_number}", scale.concurrent_seed_messages,
            self.texts,
        )
        self.store.create_conversation(seed)
        written: list[list[str]] = [[] for _ in range(scale.writers)]
        tallies: list[Tally] = []
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(scale.writers + 1)

        def writer(index: int) -> None:
            rng_text = TextSource(seed=index + 1)
            barrier.wait()
            with self.transport.measure(f"concurrent-{index}") as tally:
                for n in range(scale.appends_per_writer):
                    message_id = new_message_id()
                    text = rng_text.filler()
                    started = time.perf_counter()
                    try:
                        self.manager.append_message(
                            seed.id, customer_id, role_of(n + 1), text,
                            tokens=tokens_of(text), message_id=message_id,
                        )
                    except Exception as exc:  # reported, not raised: the count shows the loss
                        with lock:
                            errors.append(f"{type(exc).__name__}: {exc}"[:200])
                        continue
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed * 1000)
                    written[index].append(message_id)
            with lock:
                tallies.append(tally)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(scale.writers)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        stored = self.manager.load_conversation(seed.id, customer_id)
        ours = [i for ids in written for i in ids]
        stored_ids = [m.id for m in stored.messages]
        appends = scale.writers * scale.appends_per_writer
        requests = sum(t.requests for t in tallies)
        return {
            "writers": scale.writers,
            "appends_per_writer": scale.appends_per_writer,
            "seed_messages": scale.concurrent_seed_messages,
            "seconds": seconds,
            "appends_per_second": appends / seconds,
            "latency_ms": summarize(latencies) if latencies else None,
            "requests": requests,
            "requests_per_append": requests / appends,
            "statuses": status_counts(tallies),
            "errors": errors[:10],
            "error_count": len(errors),
            "acknowledged": len(ours),
            "stored_new_messages": len(stored_ids) - scale.concurrent_seed_messages,
            "each_acknowledged_once": all(stored_ids.count(i) == 1 for i in ours),
            "message_count_field": stored.message_count,
            "expected": scale.concurrent_seed_messages + appends,
        }

    def naive_concurrent_writers(self) -> Record:
        """The seed system under the same load: each writer upserts its own copy."""
        scale = self.scale
        customer_id = "naive-concurrent"
        document = self.naive.create(naive_document(customer_id, 0, self.texts))
        barrier = threading.Barrier(scale.writers + 1)

        def writer(index: int) -> None:
            mine = copy.deepcopy(document)
            texts = TextSource(seed=index + 1)
            barrier.wait()
            for n in range(scale.appends_per_writer):
                self.naive.append(mine, message_document(n + 1, texts.filler()))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(scale.writers)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        stored = self.naive.load(customer_id, document["id"])
        appends = scale.writers * scale.appends_per_writer
        return {
            "seconds": seconds,
            "appends_per_second": appends / seconds,
            "acknowledged": appends,
            "stored_new_messages": len(stored["messages"]),
        }


class GrowthSeries:
    """Per-block aggregates of a growth run, plus every append that took more than 1 request."""

    def __init__(self) -> None:
        self.blocks: list[Record] = []
        self.events: list[Record] = []
        self._block: list[Record] = []
        self.totals = {"appends": 0, "requests": 0, "request_body_bytes": 0,
                       "response_body_bytes": 0}

    def add(self, n: int, record: Record) -> None:
        self._block.append(record)
        for key in ("requests", "request_body_bytes", "response_body_bytes"):
            self.totals[key] += int(record[key])
        self.totals["appends"] += 1
        if record["requests"] != 1:
            self.events.append({"message": n, **record})
        if len(self._block) == BLOCK:
            self._flush(n)

    def _flush(self, last: int) -> None:
        block, self._block = self._block, []
        ms = summarize([float(r["ms"]) for r in block])
        self.blocks.append({
            "first": last - len(block) + 1,
            "last": last,
            "ms": ms,
            "requests": sum(int(r["requests"]) for r in block),
            "steady_request_body_bytes": summarize(
                [float(r["request_body_bytes"]) for r in block if r["requests"] == 1] or [0.0]
            ),
            "request_body_bytes": sum(int(r["request_body_bytes"]) for r in block),
            "response_body_bytes": sum(int(r["response_body_bytes"]) for r in block),
        })

    def to_json(self) -> Record:
        if self._block:
            self._flush(self.totals["appends"])
        return {"block": BLOCK, "blocks": self.blocks, "events": self.events,
                "totals": self.totals}


def window_start(n: int, scale: Scale) -> int:
    """The position whose measured window holds message `n`, or 0."""
    for position in scale.positions:
        if position <= n < position + scale.repetitions:
            return position
    return 0


def pool_growth_runs(runs: list[Record]) -> Record:
    """Windows and loads pooled over the runs; the series and item sizes of every run."""
    first = runs[0]
    windows = {
        position: [r for run in runs for r in run["windows"][position]]
        for position in first["windows"]
    }
    return {
        "runs": len(runs),
        "messages": first["messages"],
        "seconds_total": [run["seconds_total"] for run in runs],
        "windows": {p: {"samples": w, **summarize_records(w)} for p, w in windows.items()},
        "loads": first["loads"] if len(runs) == 1 else merge_loads(runs),
        "series": [run["series"] for run in runs],
        "items": [run["items"] for run in runs],
    }


def merge_loads(runs: list[Record]) -> Record:
    """Loads of several runs: the summaries of the first run, plus those of the others."""
    return {
        length: {**load, "other_runs": [run["loads"][length] for run in runs[1:]]}
        for length, load in runs[0]["loads"].items()
    }


def status_counts(tallies: list[Tally]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tally in tallies:
        for status in tally.statuses:
            counts[str(status)] = counts.get(str(status), 0) + 1
    return counts


def message_document(n: int, text: str) -> dict[str, Any]:
    message = Message(
        id=new_message_id(), role=role_of(n), content=text, tokens=tokens_of(text)  # type: ignore[arg-type]
    )
    return message.model_dump(mode="json")


def naive_document(customer_id: str, count: int, texts: TextSource) -> dict[str, Any]:
    """A seed-schema document (plus counters) holding `count` filler messages."""
    now = format_timestamp(utc_now())
    messages = [message_document(n, texts.filler()) for n in range(1, count + 1)]
    return {
        "id": f"c_{uuid.uuid4().hex}",
        "customer_id": customer_id,
        "session_id": "bench",
        "created_at": now,
        "updated_at": now,
        "message_count": count,
        "messages": messages,
    }


def first_message_over_limit(texts: TextSource) -> int:
    """The first message whose append makes a naive document larger than Cosmos DB's 2 MB."""
    probe = TextSource(seed=texts.seed)
    size = json_size(naive_document("probe", 0, probe))
    n = 0
    while size <= COSMOS_ITEM_LIMIT:
        n += 1
        size += json_size(message_document(n, probe.filler())) + 1
    return n
