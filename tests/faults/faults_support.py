"""Helpers of the fault tests: faults aimed at writes, a store that fails at our own protocol,
the tally the terminal summary prints, and raw looks at a Cosmos container.

`TALLY` collects one row per fault-matrix cell, stateful run and race round; the conftest prints
it after the run, so the figures issue 13 asks for come with every `pytest tests/faults`.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.pipeline.transport import HttpRequest
from azure.cosmos import ContainerProxy

from conversation_store import (
    AppendResult,
    Conversation,
    ConversationKey,
    ConversationStore,
    ConversationSummary,
    HeaderUpdate,
    ListFilter,
    Message,
    Page,
    StoreUnavailableError,
    SupportsEditing,
)
from conversation_store.models import NO_FILTER
from conversation_store.stores.cosmos.boundary import RetryPolicy
from conversation_store.validation import require_capability
from support.transport import Fault

T = TypeVar("T")

# Quick retries under a short hard limit: a 429 storm with a 60 s retry-after gives up fast.
STORM_RETRY = RetryPolicy(attempts=4, initial_backoff=0.01, max_backoff=0.05, max_total_seconds=1)
LONG_RETRY_AFTER = {"x-ms-retry-after-ms": "60000"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def is_query(request: HttpRequest) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return headers.get("x-ms-documentdb-isquery", "").lower() == "true" or "query+json" in (
        headers.get("content-type", "")
    )


def is_batch(request: HttpRequest) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return headers.get("x-ms-cosmos-is-batch-request", "").lower() == "true"


@dataclass
class WriteFault(Fault):
    """A fault on the next `times` write requests (no reads, no queries); `batch_only` aims it
    at transactional batches, i.e. at the seal."""

    batch_only: bool = False

    def matches(self, request: HttpRequest) -> bool:
        if request.method not in WRITE_METHODS or is_query(request):
            return False
        return is_batch(request) if self.batch_only else True


# -- the tally --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    table: str
    cell: str
    rounds: int
    values: tuple[tuple[str, int], ...]


TALLY: list[Row] = []
_tally_lock = threading.Lock()


def record(table: str, cell: str, rounds: int, **values: int) -> None:
    with _tally_lock:
        TALLY.append(Row(table, cell, rounds, tuple(values.items())))


def render_tally(rows: Sequence[Row]) -> list[str]:
    """One block per table: a line per cell, then the totals."""
    lines: list[str] = []
    for table in sorted({row.table for row in rows}):
        picked = [row for row in rows if row.table == table]
        names = [name for name, _ in picked[0].values]
        lines.append(f"== {table}: cell | rounds | " + " | ".join(names))
        totals: Counter[str] = Counter()
        for row in picked:
            totals.update(dict(row.values))
            totals["rounds"] += row.rounds
            lines.append(
                f"{row.cell} | {row.rounds} | " + " | ".join(str(v) for _, v in row.values)
            )
        summary = " | ".join(f"{name}={totals[name]}" for name in names)
        lines.append(f"-- {table} totals: cells={len(picked)} rounds={totals['rounds']} {summary}")
    return lines


# -- Cosmos, raw ------------------------------------------------------------------------------


def items_of(raw: ContainerProxy, customer_id: str) -> list[dict[str, Any]]:
    query = "SELECT * FROM c WHERE c.customer_id = @c"
    parameters: list[dict[str, object]] = [{"name": "@c", "value": customer_id}]
    return list(raw.query_items(query, parameters=parameters, partition_key=customer_id))


def segments_of(items: Sequence[dict[str, Any]], conversation_id: str) -> list[dict[str, Any]]:
    return [
        i for i in items if i.get("type") == "segment" and i["conversation_id"] == conversation_id
    ]


def orphan_segments(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments whose head is gone, or that belong to another generation than their head's."""
    heads = {i["id"]: i for i in items if i.get("type") == "conversation"}
    return [
        i
        for i in items
        if i.get("type") == "segment"
        and (
            i["conversation_id"] not in heads
            or i.get("generation", "") != heads[i["conversation_id"]].get("generation", "")
        )
    ]


# -- faults at our own protocol ---------------------------------------------------------------


class FaultyStore:
    """A store that, when armed, fails its next write with StoreUnavailableError, `before`
    delegating (nothing landed) or `after` (the write landed, its answer was lost)."""

    def __init__(self, inner: ConversationStore) -> None:
        self._inner = inner
        self._editor = require_capability(inner, SupportsEditing, "editing")
        self._armed: str | None = None
        self.fired: Counter[str] = Counter()

    def arm(self, when: str | None) -> None:
        """Fail the next write `before` or `after` delegating; None disarms."""
        assert when in (None, "before", "after")
        self._armed = when

    def _write(self, call: Callable[[], T]) -> T:
        when, self._armed = self._armed, None
        if when == "before":
            self.fired[when] += 1
            raise StoreUnavailableError("injected before the write")
        result = call()
        if when == "after":
            self.fired[when] += 1
            raise StoreUnavailableError("injected after the write landed")
        return result

    def create_conversation(self, conversation: Conversation) -> Conversation:
        return self._write(lambda: self._inner.create_conversation(conversation))

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        return self._inner.get_conversation(key, last=last)

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        return self._write(lambda: self._inner.append_messages(key, messages))

    def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        self._write(lambda: self._inner.update_conversation(key, update, etag=etag))

    def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        return self._inner.list_conversations(
            customer_id, limit=limit, continuation=continuation, archived=archived, where=where
        )

    def delete_conversation(self, key: ConversationKey) -> None:
        self._write(lambda: self._inner.delete_conversation(key))

    def replace_message(self, key: ConversationKey, message_id: str, new: Message | None) -> None:
        self._write(lambda: self._editor.replace_message(key, message_id, new))

    def clear_messages(self, key: ConversationKey) -> None:
        self._write(lambda: self._editor.clear_messages(key))

    def close(self) -> None:
        self._inner.close()
