"""The embedded SQLite measurements: the same calls as for Cosmos DB, timed (no HTTP here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conversation_store import ConversationManager, SQLiteStore
from conversation_store.ids import new_message_id

from .scale import Scale
from .stats import rolling_median, summarize
from .workload import TextSource, prebuilt_conversation, role_of, tokens_of

Record = dict[str, Any]
BLOCK = 100


def timed(call: Callable[[], object]) -> float:
    """Milliseconds `call` took."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


class SQLiteBench:
    """A fresh database file in `directory`, opened through the public manager."""

    def __init__(self, directory: Path, scale: Scale, texts: TextSource) -> None:
        self.path = directory / "bench.db"
        self.scale = scale
        self.texts = texts
        self.store = SQLiteStore(self.path)
        self.manager = ConversationManager(self.store)

    def close(self) -> None:
        self.store.close()

    def run(self, log: Callable[[str], None]) -> Record:
        log(f"sqlite: growing a conversation to {self.scale.last_message} messages")
        growth = self.grow("growth")
        log(f"sqlite: list {self.scale.list_limit} of {self.scale.list_conversations}")
        listing = self.list_recent()
        log(f"sqlite: {self.scale.sqlite_threads} writer threads")
        threads = self.threads()
        return {
            "growth": growth,
            "list": listing,
            "threads": threads,
            "file_bytes": self.path.stat().st_size,
        }

    def append(self, conversation_id: str, customer_id: str, n: int, text: str) -> float:
        return timed(
            lambda: self.manager.append_message(
                conversation_id, customer_id, role_of(n), text, tokens=tokens_of(text)
            )
        )

    def grow(self, customer_id: str) -> Record:
        scale = self.scale
        doc = self.manager.create_conversation_document(customer_id, "bench", title="Growth")
        self.manager.save_conversation(doc)
        windows: dict[str, list[float]] = {str(p): [] for p in scale.positions}
        loads: Record = {}
        times: list[float] = []
        for n in range(1, scale.last_message + 1):
            if n - 1 in scale.load_at:
                loads[str(n - 1)] = self.loads(doc.id, customer_id)
            position = next(
                (p for p in scale.positions if p <= n < p + scale.repetitions), 0
            )
            text = self.texts.window(n - position) if position else self.texts.filler()
            ms = self.append(doc.id, customer_id, n, text)
            times.append(ms)
            if position:
                windows[str(position)].append(ms)
        return {
            "messages": scale.last_message,
            "append_seconds_total": sum(times) / 1000,
            "appends_per_second": len(times) / (sum(times) / 1000),
            "windows": {p: {"samples": w, "ms": summarize(w)} for p, w in windows.items()},
            "loads": loads,
            "block": BLOCK,
            "block_median_ms": rolling_median(times, BLOCK),
        }

    def loads(self, conversation_id: str, customer_id: str) -> Record:
        window = self.scale.window_messages
        reps = range(self.scale.load_repetitions)
        recent = [
            timed(lambda: self.manager.get_history(conversation_id, customer_id,
                                                   max_messages=window))
            for _ in reps
        ]
        full = [timed(lambda: self.manager.load_conversation(conversation_id, customer_id))
                for _ in reps]
        return {"window": {"ms": summarize(recent)}, "full": {"ms": summarize(full)}}

    def list_recent(self) -> Record:
        scale = self.scale
        customer_id = "list-customer"
        for i in range(scale.list_conversations):
            self.store.create_conversation(
                prebuilt_conversation(customer_id, f"c_list_{i:05d}", 4, self.texts)
            )
        samples = [
            timed(lambda: self.manager.get_recent_conversations(customer_id,
                                                                limit=scale.list_limit))
            for _ in range(scale.list_repetitions)
        ]
        return {"conversations": scale.list_conversations, "ms": summarize(samples)}

    def threads(self) -> Record:
        """`sqlite_threads` threads, each appending to its own conversation, one shared store."""
        scale = self.scale
        ids = []
        for i in range(scale.sqlite_threads):
            doc = self.manager.create_conversation_document(f"thread-{i}", "bench")
            self.manager.save_conversation(doc)
            ids.append(doc.id)
        barrier = threading.Barrier(scale.sqlite_threads + 1)
        errors: list[str] = []

        def writer(index: int) -> None:
            texts = TextSource(seed=100 + index)
            barrier.wait()
            for n in range(1, scale.sqlite_appends_per_thread + 1):
                try:
                    self.manager.append_message(ids[index], f"thread-{index}", role_of(n),
                                                texts.filler(), message_id=new_message_id())
                except Exception as exc:  # counted below, not raised
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(scale.sqlite_threads)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        stored = sum(
            self.manager.load_conversation(cid, f"thread-{i}").message_count
            for i, cid in enumerate(ids)
        )
        appends = scale.sqlite_threads * scale.sqlite_appends_per_thread
        return {
            "threads": scale.sqlite_threads,
            "appends_per_thread": scale.sqlite_appends_per_thread,
            "seconds": seconds,
            "appends_per_second": appends / seconds,
            "stored": stored,
            "expected": appends,
            "errors": errors[:10],
            "error_count": len(errors),
        }
