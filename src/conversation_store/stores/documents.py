"""Pure document logic of the Cosmos stores (sync and aio share all of it).

A conversation is a **head** item (`type: "conversation"`, id = conversation id) holding the
metadata and the newest messages, plus immutable **segment** items (`type: "segment"`, id
`<conversation id>:<n>`) holding older messages, all in the customer's partition. `head_bytes`
on the head is our own upper bound of its serialized size, kept by every write, so an append
can check the bound inside its own conditional patch without reading the item first.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Conversation, Message, format_timestamp, utc_now
from .protocol import HeaderUpdate

SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts")
MAX_PATCH_OPERATIONS = 10  # Cosmos DB's limit per patch request
APPEND_FIXED_OPERATIONS = 4  # counters, updated_at and head_bytes
MESSAGES_PER_PATCH = MAX_PATCH_OPERATIONS - APPEND_FIXED_OPERATIONS
# Counters may gain digits and updated_at is fixed width: 16 bytes covers an append's growth.
APPEND_SLACK_BYTES = 16
# What Cosmos adds to every item (_rid, _self, _etag, _attachments, _ts), rounded up.
SYSTEM_PROPERTY_BYTES = 256
COSMOS_ITEM_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class SizeLimits:
    """How large items may grow. `item_bytes` bounds every head and segment we write.

    After a seal the head keeps at most `head_after_seal` of the bound, so seals stay rare.
    """

    item_bytes: int = 256 * 1024
    head_after_seal: float = 0.5

    def __post_init__(self) -> None:
        if not 4 * 1024 <= self.item_bytes <= COSMOS_ITEM_LIMIT - SYSTEM_PROPERTY_BYTES:
            raise ValueError("item_bytes must be between 4 KiB and Cosmos DB's 2 MB item limit")

    @property
    def budget(self) -> int:
        """Bytes our own fields may use once Cosmos adds its system properties."""
        return self.item_bytes - SYSTEM_PROPERTY_BYTES


def now() -> str:
    """The current time as stored in documents."""
    return format_timestamp(utc_now())


def json_size(value: Any) -> int:
    """Bytes of `value` as Cosmos stores it (compact JSON, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def segment_id(conversation_id: str, number: int) -> str:
    return f"{conversation_id}:{number}"


def strip_system_properties(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in SYSTEM_PROPERTIES}


def pin_system_message(everything: Sequence[Message], tail: Sequence[Message]) -> list[Message]:
    """`tail`, preceded by the first of `everything` when that is a system message outside it."""
    first = everything[0] if everything else None
    if first is not None and first.role == "system" and len(tail) < len(everything):
        return [first, *tail]
    return list(tail)


def message_documents(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in messages]


def with_head_bytes(head: dict[str, Any]) -> dict[str, Any]:
    """`head` with its exact `head_bytes` set (the field counts itself)."""
    head = {**head, "head_bytes": 0}
    size = json_size(head)
    head["head_bytes"] = size + len(str(size + 8))
    return head


def is_pinned_system(messages: Sequence[dict[str, Any]], head: dict[str, Any]) -> bool:
    """The head's first message is the conversation's leading system prompt, kept in the head."""
    return (
        bool(messages) and messages[0].get("role") == "system" and bool(head.get("pinned_system"))
    )


# -- building and reading items ---------------------------------------------------------------


def new_items(
    conversation: Conversation, limits: SizeLimits
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The head and segment items that store a new conversation within the bound."""
    document = conversation.to_document()
    messages = document.pop("messages")
    head = {
        **document,
        "type": "conversation",
        "segment_count": 0,
        "messages": [],
        "pinned_system": bool(messages) and messages[0].get("role") == "system",
    }
    return seal_into_head(head, messages, limits)


def seal_into_head(
    head: dict[str, Any],
    incoming: Sequence[dict[str, Any]],
    limits: SizeLimits,
    *,
    force: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Add `incoming` to `head`, sealing the oldest messages into new segments as needed.

    With `force` (an append refused for lack of room), seal down to `head_after_seal` even if
    the exact size would still fit: a whole-head rewrite that seals nothing would be repeated
    at the next append. Returns the new head (with `head_bytes`) and the segments to create.
    """
    head = strip_system_properties(head)
    everything = [*head["messages"], *incoming]
    pinned = everything[:1] if head.get("pinned_system") and everything else []
    rest = everything[len(pinned) :]
    candidate = with_head_bytes({**head, "messages": everything})
    if not force and candidate["head_bytes"] <= limits.budget:
        return candidate, []
    keep_budget = int(limits.budget * limits.head_after_seal)
    base = json_size({**head, "messages": pinned}) + 32
    kept: list[dict[str, Any]] = []
    used = base
    for message in reversed(rest):
        size = json_size(message) + 1
        if kept and used + size > keep_budget:
            break
        kept.append(message)
        used += size
    kept.reverse()
    sealed = rest[: len(rest) - len(kept)]
    segments = _segments(head, sealed, limits)
    new_head = with_head_bytes(
        {
            **head,
            "messages": [*pinned, *kept],
            "segment_count": int(head.get("segment_count", 0)) + len(segments),
        }
    )
    return new_head, segments


def _segments(
    head: dict[str, Any], sealed: Sequence[dict[str, Any]], limits: SizeLimits
) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    number = int(head.get("segment_count", 0))
    current: list[dict[str, Any]] = []
    for message in sealed:
        if current and json_size(_segment(head, number, [*current, message])) > limits.budget:
            segments.append(_segment(head, number, current))
            number, current = number + 1, []
        current.append(message)
    if current:
        segments.append(_segment(head, number, current))
    return segments


def _segment(head: dict[str, Any], number: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": segment_id(head["id"], number),
        "type": "segment",
        "customer_id": head["customer_id"],
        "conversation_id": head["id"],
        "number": number,
        "messages": messages,
    }


def conversation_from_items(
    head: dict[str, Any], segments: Sequence[dict[str, Any]], *, last: int | None = None
) -> Conversation:
    """The conversation stored in `head` and (some of) its `segments`, oldest first."""
    document = strip_system_properties(head)
    messages: list[dict[str, Any]] = document.pop("messages", [])
    pinned = messages[:1] if is_pinned_system(messages, document) else []
    older = [m for s in sorted(segments, key=lambda s: int(s["number"])) for m in s["messages"]]
    rest = [*older, *messages[len(pinned) :]]
    if last is not None:
        rest = rest[-last:] if last else []
    for field in ("head_bytes", "segment_count", "pinned_system"):
        document.pop(field, None)
    return Conversation.model_validate({**document, "messages": [*pinned, *rest]})


def head_messages_available(head: dict[str, Any]) -> int:
    """How many non-pinned messages the head itself holds."""
    messages = head.get("messages", [])
    return len(messages) - (1 if is_pinned_system(messages, head) else 0)


def upgraded_head(item: dict[str, Any]) -> dict[str, Any]:
    """A head in today's layout; a seed document gets its counters and fields on first write."""
    head = strip_system_properties(item)
    messages = head.get("messages") or []
    if "head_bytes" not in head:
        head = {
            "type": "conversation",
            "schema_version": 1,
            "metadata": {},
            "segment_count": 0,
            "pinned_system": False,
            "message_count": len(messages),
            "total_tokens": sum(int(m.get("tokens") or 0) for m in messages),
            **head,
            "messages": messages,
        }
    return head


# Header patches apply only to heads in today's layout; others are rewritten whole once.
UPGRADED_PREDICATE = "FROM c WHERE IS_DEFINED(c.head_bytes)"


# -- patches -----------------------------------------------------------------------------------


def append_operations(messages: Sequence[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """One patch: add the messages, bump the counters, set updated_at, grow head_bytes."""
    tokens = sum(int(m.get("tokens") or 0) for m in messages)
    added = appended_bytes(messages)
    return [
        *({"op": "add", "path": "/messages/-", "value": m} for m in messages),
        {"op": "incr", "path": "/message_count", "value": len(messages)},
        {"op": "incr", "path": "/total_tokens", "value": tokens},
        {"op": "incr", "path": "/head_bytes", "value": added},
        {"op": "set", "path": "/updated_at", "value": now},
    ]


def appended_bytes(messages: Sequence[dict[str, Any]]) -> int:
    """What an append adds to `head_bytes` (its messages, commas and counter growth)."""
    return sum(json_size(m) + 1 for m in messages) + APPEND_SLACK_BYTES


def missing_messages(head: dict[str, Any], chunk: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages of `chunk` the head does not hold yet (a retry finds them there)."""
    stored = {m.get("id") for m in head.get("messages", [])}
    return [m for m in chunk if m.get("id") is None or m["id"] not in stored]


def has_room(item: dict[str, Any], chunk: Sequence[dict[str, Any]], limits: SizeLimits) -> bool:
    """The head is in today's layout and can take `chunk` by patch within the bound."""
    size = item.get("head_bytes")
    return isinstance(size, int) and size + appended_bytes(chunk) <= limits.budget


def grown_head(head: dict[str, Any], missing: Sequence[dict[str, Any]], now: str) -> dict[str, Any]:
    """`head` with its counters and updated_at advanced for `missing` (messages not added yet)."""
    return {
        **head,
        "message_count": int(head["message_count"]) + len(missing),
        "total_tokens": int(head["total_tokens"]) + sum(int(m.get("tokens") or 0) for m in missing),
        "updated_at": now,
    }


def race_backoff(race: int) -> float:
    """Seconds to wait after losing an ETag race to another writer: exponential, full jitter."""
    return random.uniform(0, min(0.25, 0.005 * 2**race))


def append_predicate(messages: Sequence[dict[str, Any]], limits: SizeLimits) -> str:
    """Apply the append only if none of the messages is in the head and the bound still holds."""
    clauses = [f"c.head_bytes <= {limits.budget - appended_bytes(messages)}"]
    clauses += [
        f'NOT ARRAY_CONTAINS(c.messages, {{"id": {json.dumps(m["id"])}}}, true)'
        for m in messages
        if m.get("id") is not None
    ]
    return "FROM c WHERE " + " AND ".join(clauses)


def header_operations(update: HeaderUpdate, now: str) -> list[list[dict[str, Any]]]:
    """Patch requests (each within the operation limit) that apply `update`."""
    operations: list[dict[str, Any]] = [
        *(
            {"op": "set", "path": f"/{name}", "value": value}
            for name, value in update.fields.items()
        ),
        *(
            {"op": "set", "path": f"/metadata/{_pointer(key)}", "value": value}
            for key, value in update.metadata_set.items()
        ),
        *(
            {"op": "remove", "path": f"/metadata/{_pointer(key)}"}
            for key in update.metadata_removed
        ),
    ]
    size = MAX_PATCH_OPERATIONS - 1
    chunks = [operations[i : i + size] for i in range(0, len(operations), size)] or [[]]
    return [[*chunk, {"op": "set", "path": "/updated_at", "value": now}] for chunk in chunks]


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def cleared_head(head: dict[str, Any], now: str) -> dict[str, Any]:
    return with_head_bytes(
        {
            **strip_system_properties(head),
            "messages": [],
            "message_count": 0,
            "total_tokens": 0,
            "segment_count": 0,
            "pinned_system": False,
            "updated_at": now,
        }
    )


# -- queries -----------------------------------------------------------------------------------

SUMMARY_FIELDS = (
    "id",
    "customer_id",
    "session_id",
    "title",
    "persona",
    "org_id",
    "metadata",
    "created_at",
    "updated_at",
    "message_count",
    "total_tokens",
)
# Seed documents carry no `type`; they are conversations too.
LIST_QUERY = (
    "SELECT " + ", ".join(f"c.{f}" for f in SUMMARY_FIELDS) + " FROM c "
    "WHERE c.customer_id = @customer_id AND (NOT IS_DEFINED(c.type) OR c.type = 'conversation') "
    "ORDER BY c.updated_at DESC"
)
SEGMENTS_QUERY = (
    "SELECT * FROM c WHERE c.customer_id = @customer_id AND c.type = 'segment' "
    "AND c.conversation_id = @conversation_id"
)
SEGMENT_IDS_QUERY = (
    "SELECT c.id FROM c WHERE c.customer_id = @customer_id AND c.type = 'segment' "
    "AND c.conversation_id = @conversation_id"
)


def parameters(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]
