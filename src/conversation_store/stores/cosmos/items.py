"""Pure item logic of the Cosmos stores (sync and aio share all of it).

A conversation is a **head** item (`type: "conversation"`, id = conversation id) holding the
metadata and the newest messages, plus immutable **segment** items (`type: "segment"`, id
`<conversation id>:<n>`) holding older messages, all in the customer's partition. `head_bytes`
on the head is our own upper bound of its serialized size, kept by every write, so an append
can check the bound inside its own conditional patch without reading the item first.

Exactly once: the append patch is conditional on none of its message ids being in the head's
`messages` or in its `sealed_ids` (the ids of the newest MAX_SEALED_IDS messages moved into
segments), so a retry whose first attempt landed, even one a seal has moved since, is refused
by the same one request. Every "which messages are missing" decision here checks both.

Generations: every head gets a random `generation`, and every segment carries the generation of
the head it was sealed from. A conversation is its head plus the segments of the head's
generation only; a clear starts a new generation in the same ETag-checked write, and a delete
removes the head first. So segments left behind by a delete, a clear or a crash are dead at
once (never shown, never in the way of a later seal, which upserts its segment ids), and the
orphan sweep removes them.

Expiry (`ttl` on the head): Cosmos DB hides a head `ttl` seconds after its last write (`_ts`).
Segments carry no `ttl`: they are written once, so their own `_ts` says nothing about the
conversation's last write, and a segment `ttl` would expire old messages of a conversation
still in use. A segment is live only through its head; after the head expired, its segments
stay stored (invisible: every read goes through the head) until `delete_orphans` (run by
cleanup) or `delete_customer` removes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conversation_store.decoding import message_tokens
from conversation_store.exceptions import InvalidInputError
from conversation_store.models import (
    Conversation,
    HeaderUpdate,
    Message,
    ShareLink,
    format_timestamp,
    utc_now,
)
from conversation_store.stores.cosmos.decoding import decoded_conversation
from conversation_store.validation import validate_message_bytes

SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts")
MAX_PATCH_OPERATIONS = 10  # Cosmos DB's limit per patch request
APPEND_FIXED_OPERATIONS = 4  # counters, updated_at and head_bytes
MESSAGES_PER_PATCH = MAX_PATCH_OPERATIONS - APPEND_FIXED_OPERATIONS
# Counters may gain digits and updated_at is fixed width: 16 bytes covers an append's growth.
APPEND_SLACK_BYTES = 16
# What Cosmos adds to every item (_rid, _self, _etag, _attachments, _ts), rounded up.
SYSTEM_PROPERTY_BYTES = 256
COSMOS_ITEM_LIMIT = 2 * 1024 * 1024
# One message's JSON at most, checked before any write. A message too big for the head is
# sealed into a segment item of its own by the append that brings it (one transactional batch
# with the head), so it must fit a 2 MB item and, with the head, a 2 MB request.
MAX_MESSAGE_BYTES = 1_500_000
# Cosmos DB refuses a request, a transactional batch included, of more than 2 MB.
COSMOS_REQUEST_LIMIT = 2 * 1024 * 1024
# Room for a batch's envelope (operation headers, JSON framing) and the segments' own fields.
BATCH_ENVELOPE_BYTES = 64 * 1024
# A headless segment younger than this may belong to a create still in progress (its segments
# are written before its head), so cleanup leaves it alone.
ORPHAN_GRACE_SECONDS = 600.0
MAX_BATCH_OPERATIONS = 100  # Cosmos DB's limit per transactional batch
# Cosmos DB refuses a batch whose request exceeds 2 MB; our items' bytes plus each operation's
# envelope stay well below it at 1.5 MB.
MAX_BATCH_PAYLOAD_BYTES = 1_500_000
# How many ids of sealed messages the head remembers (newest last): a retry is recognised as
# long as fewer messages than this were sealed since its first attempt. They also stay within
# an eighth of the item bound (`sealed_ids_budget`), so small bounds remember fewer.
MAX_SEALED_IDS = 512
# Generation of heads and segments written before generations existed.
LEGACY_GENERATION = ""
HEAD_TYPES = (None, "conversation")
HEAD_CONDITION = "(NOT IS_DEFINED(c.type) OR c.type = 'conversation')"
# Patches apply only to heads in today's layout, which always have their type.
PATCHABLE_HEAD = "c.type = 'conversation'"
SHARE_LINK_TYPE = "share_link"
EXTERNAL_ID_TYPE = "external_id"
EXTERNAL_ID_PREFIX = "_external_id:"
SHARE_PARTITION_PREFIX = "_share:"


@dataclass(frozen=True)
class SizeLimits:
    """How large items may grow. `item_bytes` bounds every head and segment we write.

    After a seal the head keeps at most `head_after_seal` of the bound, so seals stay rare.
    """

    item_bytes: int = 256 * 1024
    head_after_seal: float = 0.5

    def __post_init__(self) -> None:
        if not 4 * 1024 <= self.item_bytes <= MAX_ITEM_BYTES:
            raise ValueError(
                f"item_bytes must be between 4 KiB and {MAX_ITEM_BYTES} bytes: a head that large "
                "and the largest message still fit one 2 MB request when the message is sealed"
            )

    @property
    def budget(self) -> int:
        """Bytes our own fields may use once Cosmos adds its system properties."""
        return self.item_bytes - SYSTEM_PROPERTY_BYTES

    @property
    def chunk_bytes(self) -> int:
        """The most message bytes one append request carries: with a full head sealed beside
        them (its messages, its sealed ids) the sealing batch stays within a 2 MB request."""
        return COSMOS_REQUEST_LIMIT - BATCH_ENVELOPE_BYTES - self.budget - self.budget // 8


# The largest head bound whose chunks still take the largest message (see `chunk_bytes`).
_LARGEST_CHUNK = MAX_MESSAGE_BYTES + 1 + APPEND_SLACK_BYTES
MAX_ITEM_BYTES = (
    COSMOS_REQUEST_LIMIT - BATCH_ENVELOPE_BYTES - _LARGEST_CHUNK
) * 8 // 9 + SYSTEM_PROPERTY_BYTES


def now() -> str:
    """The current time as stored in documents."""
    return format_timestamp(utc_now())


def epoch_seconds() -> int:
    """The current time as Cosmos DB's `_ts` counts it."""
    return int(time.time())


def live_condition(now: str) -> str:
    """SQL that is true for an item not expired at `now` (epoch seconds, or a parameter)."""
    return f"(NOT IS_NUMBER(c.ttl) OR c._ts + c.ttl > {now})"


def new_generation() -> str:
    """A fresh generation: 8 random base32 characters (40 bits)."""
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()


def generation_of(item: Mapping[str, Any]) -> str:
    """The generation of a head or segment; items written before generations have the legacy one."""
    value = item.get("generation")
    return value if isinstance(value, str) else LEGACY_GENERATION


def is_head_item(item: Mapping[str, Any]) -> bool:
    """A conversation head (or a seed document, which has no type), not an internal item."""
    return item.get("type") in HEAD_TYPES


def sealed_ids(head: dict[str, Any]) -> list[str]:
    """The ids the head remembers as sealed; none for a head of an older layout."""
    value = head.get("sealed_ids")
    return [str(v) for v in value] if isinstance(value, list) else []


def stored_ids(head: dict[str, Any]) -> set[str]:
    """Every message id the head knows as stored: its own messages' and the sealed ones'."""
    return {str(m["id"]) for m in head.get("messages", []) if m.get("id") is not None} | set(
        sealed_ids(head)
    )


def head_expired(item: dict[str, Any], now: int) -> bool:
    """The head's `ttl` ran out: Cosmos DB no longer shows it (a server that does not enforce
    TTL, like the local test server, still does; we treat it as gone all the same)."""
    ttl, written = item.get("ttl"), item.get("_ts")
    return isinstance(ttl, int) and isinstance(written, int) and written + ttl <= now


def json_size(value: Any) -> int:
    """Bytes of `value` as Cosmos stores it (compact JSON, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def segment_id(conversation_id: str, number: int) -> str:
    return f"{conversation_id}:{number}"


def strip_system_properties(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in SYSTEM_PROPERTIES}


def message_documents(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The messages' JSON. Raises InvalidInputError for one over MAX_MESSAGE_BYTES."""
    return checked_sizes([m.model_dump(mode="json") for m in messages])


def checked_sizes(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`documents` (messages' JSON), each within MAX_MESSAGE_BYTES, else InvalidInputError."""
    for document in documents:
        validate_message_bytes(document, limit=MAX_MESSAGE_BYTES, store="Cosmos DB")
    return documents


def with_head_bytes(head: dict[str, Any]) -> dict[str, Any]:
    """`head` with its exact `head_bytes` set (the field counts itself)."""
    head = {**head, "head_bytes": 0}
    size = json_size(head)
    head["head_bytes"] = size + len(str(size + 8))
    return head


def is_pinned_system(messages: Sequence[dict[str, Any]], head: dict[str, Any]) -> bool:
    """The head's first message is the conversation's leading system prompt, kept in the head.

    Without live segments the head holds the whole conversation, so its first message is the
    conversation's first (however it got there: create, append or replace); once segments
    exist, only a prompt flagged `pinned_system` when the first of them was sealed is.
    """
    first = messages[0] if messages else None
    if not isinstance(first, dict) or first.get("role") != "system":  # a list: by hand
        return False
    return bool(head.get("pinned_system")) or not live_segment_count(head)


# -- building and reading items ---------------------------------------------------------------


def new_items(
    conversation: Conversation, limits: SizeLimits
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The head and segment items that store a new conversation within the bound."""
    document = conversation.to_document()
    messages = checked_sizes(document.pop("messages"))
    head = {
        **document,
        "type": "conversation",
        "generation": new_generation(),
        "segment_count": 0,
        "sealed_ids": [],
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
    pinned = everything[:1] if is_pinned_system(everything, head) else []
    rest = everything[len(pinned) :]
    candidate = with_head_bytes({**head, "messages": everything})
    if not force and candidate["head_bytes"] <= limits.budget:
        return candidate, []
    keep_budget = int(limits.budget * limits.head_after_seal)
    # The sealed ids counted at their most, since the seal adds to them.
    unsealed = {**head, "messages": pinned, "sealed_ids": []}
    base = json_size(unsealed) + sealed_ids_budget(limits) + 32
    kept: list[dict[str, Any]] = []
    used = base
    for message in reversed(rest):
        size = json_size(message) + 1
        if used + size > keep_budget:  # even the newest: a message too big goes to a segment
            break
        kept.append(message)
        used += size
    kept.reverse()
    sealed = rest[: len(rest) - len(kept)]
    segments = _segments(head, sealed, limits)
    moved = [str(m["id"]) for m in sealed if m.get("id") is not None]
    new_head = with_head_bytes(
        {
            **head,
            "messages": [*pinned, *kept],
            "pinned_system": bool(pinned),
            "segment_count": int(head.get("segment_count", 0)) + len(segments),
            "sealed_ids": remembered_ids([*sealed_ids(head), *moved], limits),
        }
    )
    return new_head, segments


def sealed_ids_budget(limits: SizeLimits) -> int:
    """Bytes the head's `sealed_ids` may take: an eighth of the item bound (512 ids of our
    28-character message ids fit in an eighth of the default 256 KiB)."""
    return limits.budget // 8


def remembered_ids(ids: Sequence[str], limits: SizeLimits) -> list[str]:
    """The newest of `ids` the head remembers: at most MAX_SEALED_IDS, within its budget."""
    kept: list[str] = []
    used = 2  # the brackets
    for sealed_id in reversed(ids[-MAX_SEALED_IDS:]):
        used += json_size(sealed_id) + 1
        if used > sealed_ids_budget(limits):
            break
        kept.append(sealed_id)
    kept.reverse()
    return kept


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
        "generation": generation_of(head),
        "number": number,
        "messages": messages,
    }


def creation_batches(
    head: dict[str, Any],
    segments: Sequence[dict[str, Any]],
    claim: dict[str, Any] | None = None,
) -> list[list[tuple[Any, ...]]]:
    """Transactional batches that store a new conversation, the head's create in the last.

    Segments are upserted, so a create retried after a partial failure rewrites them the same;
    the head is created last because it is the commit point: until it exists, nothing of the
    conversation is visible, and if it exists already, its create fails (409). The external
    id's `claim` is created in the head's batch: one of two racing creates fails on it (409).
    Batches stay within Cosmos DB's operation and payload limits; most conversations need one.
    """
    commit = [*([("create", (claim,))] if claim else []), ("create", (head,))]
    return _packed([[("upsert", (s,))] for s in segments] + [commit])


def replacement_batches(
    head: dict[str, Any],
    etag: str,
    messages: Sequence[dict[str, Any]],
    generation: str,
    limits: SizeLimits,
    now: str,
) -> list[list[tuple[Any, ...]]]:
    """Transactional batches that give the conversation of `head` (stored at `etag`) the
    `messages`, in a new `generation`: the head's ETag-checked replace last, the
    commit point. In one batch (most replacements) the new segments may overwrite the old
    ones; over several, the segments written first take numbers after the old ones, so that
    nothing live changes until the head names their generation."""
    for first_number in (0, int(head.get("segment_count", 0))):
        new_head, segments = replaced_head(head, messages, generation, limits, now, first_number)
        units = [[("upsert", (s,))] for s in segments]
        batches = _packed([*units, [replace_operation(new_head, etag)]])
        if len(batches) == 1:
            break
    return batches


def _packed(units: list[list[tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
    """`units` (operations that go in one batch together) in order, in as few batches as
    Cosmos DB's operation and payload limits allow."""
    batches: list[list[tuple[Any, ...]]] = [[]]
    payload = 0
    for unit in units:
        size = sum(json_size(operation[1][-1]) for operation in unit)
        count = len(batches[-1]) + len(unit)
        full = count > MAX_BATCH_OPERATIONS or payload + size > MAX_BATCH_PAYLOAD_BYTES
        if batches[-1] and full:
            batches.append([])
            payload = 0
        batches[-1].extend(unit)
        payload += size
    return batches


# -- popping and replacing messages -----------------------------------------------------------


def popped_head(
    head: dict[str, Any], n: int, write_id: str, now: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """`head` without its `n` newest messages (all it has, when it holds the whole
    conversation and fewer), marked with `write_id`, and those messages, oldest first; None
    when they reach into the segments (the pinned system prompt is older than them)."""
    messages = list(head.get("messages", []))
    if live_segment_count(head) and n > head_messages_available(head):
        return None
    count = min(n, len(messages))
    rest, popped = messages[: len(messages) - count], messages[len(messages) - count :]
    tokens = sum(message_tokens(m) for m in popped)
    new_head = with_head_bytes(
        {
            **strip_system_properties(head),
            "messages": rest,
            "message_count": max(0, int(head.get("message_count") or 0) - count),
            "total_tokens": max(0, int(head.get("total_tokens") or 0) - tokens),
            "pinned_system": bool(head.get("pinned_system")) and bool(rest),
            "updated_at": now,
            "write_id": write_id,
        }
    )
    return new_head, popped


def replaced_head(
    head: dict[str, Any],
    messages: Sequence[dict[str, Any]],
    generation: str,
    limits: SizeLimits,
    now: str,
    first_number: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`head` holding `messages` instead of its own, in a new `generation` (its old segments
    are dead at once), and the new generation's segments, numbered from `first_number`,
    sealed as a create would."""
    base = {
        **cleared_head(head, generation, now),
        "segment_count": first_number,
        "first_segment": first_number,
        "message_count": len(messages),
        "total_tokens": sum(message_tokens(m) for m in messages),
        "pinned_system": bool(messages) and messages[0].get("role") == "system",
    }
    return seal_into_head(base, messages, limits)


# -- external ids ------------------------------------------------------------------------------


def external_id_claim_id(external_id: str) -> str:
    """The id of the item that claims `external_id` in a customer's partition. An external
    id may hold `/ \\ ? #` and run past 255 bytes of UTF-8, which an item id may not, so the
    id is its SHA-256; the lookup never uses it (`queries.external_id_query` matches the
    text itself). A public call cannot reach it: it is no head (`is_head_item`)."""
    return EXTERNAL_ID_PREFIX + hashlib.sha256(external_id.encode("utf-8")).hexdigest()


def external_id_claim(head: Mapping[str, Any]) -> dict[str, Any]:
    """The claim of the head's external id: it names the conversation holding it."""
    return {
        "id": external_id_claim_id(str(head["external_id"])),
        "type": EXTERNAL_ID_TYPE,
        "customer_id": head["customer_id"],
        "conversation_id": head["id"],
        "external_id": head["external_id"],
    }


def is_stale_claim(claim: Mapping[str, Any], head: Mapping[str, Any] | None, now: int) -> bool:
    """The claim no longer holds its external id: its conversation is gone, expired, or (by
    a crash between a delete and the claim's) another conversation under the same id."""
    if claim.get("type") != EXTERNAL_ID_TYPE:
        return False
    if head is None or not is_head_item(head) or head_expired(dict(head), now):
        return True
    return head.get("external_id") != claim.get("external_id")


def conversation_from_items(
    head: dict[str, Any], segments: Sequence[dict[str, Any]], *, last: int | None = None
) -> Conversation:
    """The conversation stored in `head` and (some of) its `segments`, oldest first; segments
    of another generation than the head's (left by a delete, clear or crash) are ignored."""
    document = strip_system_properties(head)
    messages: list[dict[str, Any]] = document.pop("messages", [])
    pinned = messages[:1] if is_pinned_system(messages, document) else []
    live = sorted(of_generation(segments, head), key=lambda s: int(s["number"]))
    older = [m for s in live for m in s["messages"]]
    rest = [*older, *messages[len(pinned) :]]
    if last is not None:
        rest = rest[-last:] if last else []
    internal = ("head_bytes", "segment_count", "pinned_system", "sealed_ids", "generation")
    for field in (*internal, "first_segment", "write_id"):
        document.pop(field, None)
    return decoded_conversation(document, [*pinned, *rest])


def of_generation(segments: Sequence[dict[str, Any]], head: dict[str, Any]) -> list[dict[str, Any]]:
    """The `segments` that belong to `head`'s generation."""
    generation = generation_of(head)
    return [s for s in segments if generation_of(s) == generation]


def live_segment_count(head: dict[str, Any]) -> int:
    """How many segments the head's generation has: numbers `first_segment` (0 unless a
    replacement written in several batches numbered its segments after the old ones) up to
    `segment_count`."""
    return int(head.get("segment_count", 0)) - int(head.get("first_segment", 0))


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
            "total_tokens": sum(message_tokens(m) for m in messages),
            **head,
            "messages": messages,
        }
    return head


def header_predicate(now: int) -> str:
    """Header patches apply only to live heads in today's layout (others are rewritten whole
    once, after a read that also finds an expired head gone)."""
    live = live_condition(str(now))
    return f"FROM c WHERE IS_DEFINED(c.head_bytes) AND {PATCHABLE_HEAD} AND {live}"


# -- batch operations --------------------------------------------------------------------------


def delete_operation(item: dict[str, Any]) -> tuple[Any, ...]:
    """Delete `item`; if it was listed with its `_etag`, only while it is still that version:
    a segment listed as dead may be overwritten under the same id by a seal of the next
    generation (after a clear, or a create again under a deleted id) before the delete runs."""
    etag = item.get("_etag")
    if etag is None:
        return ("delete", (item["id"],))
    return ("delete", (item["id"],), {"if_match_etag": etag})


def replace_operation(item: dict[str, Any], etag: str) -> tuple[Any, ...]:
    """Replace `item` only if the stored one is still at `etag`."""
    return ("replace", (item["id"], item), {"if_match_etag": etag})


def append_chunks(
    messages: Sequence[dict[str, Any]], limits: SizeLimits
) -> list[list[dict[str, Any]]]:
    """`messages` in order, in chunks one append request each: at most MESSAGES_PER_PATCH
    messages and `limits.chunk_bytes` of them (a single message is always a chunk)."""
    chunks: list[list[dict[str, Any]]] = []
    for message in messages:
        current = chunks[-1] if chunks else []
        full = len(current) >= MESSAGES_PER_PATCH or (
            appended_bytes([*current, message]) > limits.chunk_bytes
        )
        if not current or full:
            chunks.append([message])
        else:
            current.append(message)
    return chunks


def fits_patch(chunk: Sequence[dict[str, Any]], limits: SizeLimits) -> bool:
    """Whether a head could take `chunk` by patch at all (else it can only be sealed)."""
    return appended_bytes(chunk) <= limits.budget


def batch_bytes(batch: Sequence[tuple[Any, ...]]) -> int:
    """The bytes of the items a transactional batch writes."""
    return sum(json_size(operation[1][-1]) for operation in batch if operation[0] != "delete")


def append_seal(
    head: dict[str, Any], chunk: Sequence[dict[str, Any]], etag: str, limits: SizeLimits
) -> tuple[list[tuple[Any, ...]], bool]:
    """The sealing batch that appends `chunk` to `head` (stored at `etag`), and True; or, when
    that batch would pass Cosmos DB's 2 MB request limit (a head stored over today's bound by
    an older version, which kept a large message in it), one that only seals what the head
    holds, and False: the chunk then follows into the emptied head.

    Raises InvalidInputError when even that cannot help: the head's pinned system prompt and
    the chunk do not fit one request together.
    """
    new_head, segments = seal_into_head(grown_head(head, chunk, now()), chunk, limits, force=True)
    batch = sealing_batch(new_head, segments, etag)
    if batch_bytes(batch) <= COSMOS_REQUEST_LIMIT - BATCH_ENVELOPE_BYTES:
        return batch, True
    emptied, old = seal_into_head(head, [], limits, force=True)
    if not old:
        raise InvalidInputError(
            f"the conversation's system prompt and {len(chunk)} new message(s) take "
            f"{batch_bytes(batch)} bytes; Cosmos DB writes at most {COSMOS_REQUEST_LIMIT} "
            "bytes in one request"
        )
    return sealing_batch(emptied, old, etag), False


def sealing_batch(
    head: dict[str, Any], segments: Sequence[dict[str, Any]], etag: str
) -> list[tuple[Any, ...]]:
    """Write the newly sealed `segments` and replace the head by ETag, in one transaction.

    The segments are upserted: the head's ETag already makes this batch the only one that can
    commit for this head version, so an item found under a new segment id can only be a dead
    one of another generation (a delete or clear that left it), which this overwrites.
    """
    return [*(("upsert", (s,)) for s in segments), replace_operation(head, etag)]


# -- patches -----------------------------------------------------------------------------------


def append_operations(messages: Sequence[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """One patch: add the messages, bump the counters, set updated_at, grow head_bytes."""
    tokens = sum(message_tokens(m) for m in messages)
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
    """The messages of `chunk` the head neither holds nor remembers as sealed (a retry whose
    first attempt landed finds its messages in one or the other)."""
    stored = stored_ids(head)
    return [m for m in chunk if m.get("id") is None or m["id"] not in stored]


def has_room(item: dict[str, Any], chunk: Sequence[dict[str, Any]], limits: SizeLimits) -> bool:
    """The head is in today's layout and can take `chunk` by patch within the bound."""
    size = item.get("head_bytes")
    current = isinstance(item.get("sealed_ids"), list) and item.get("type") == "conversation"
    return current and isinstance(size, int) and size + appended_bytes(chunk) <= limits.budget


def grown_head(head: dict[str, Any], missing: Sequence[dict[str, Any]], now: str) -> dict[str, Any]:
    """`head` with its counters and updated_at advanced for `missing` (messages not added yet)."""
    return {
        **head,
        "message_count": int(head["message_count"]) + len(missing),
        "total_tokens": int(head["total_tokens"]) + sum(message_tokens(m) for m in missing),
        "updated_at": now,
    }


def race_backoff(race: int) -> float:
    """Seconds to wait after losing an ETag race to another writer: exponential, full jitter."""
    return random.uniform(0, min(0.25, 0.005 * 2**race))


def append_predicate(messages: Sequence[dict[str, Any]], limits: SizeLimits, now: int) -> str:
    """Apply the append only to a head, if none of the messages is in it or among its sealed
    ids, the bound still holds and the head has not expired."""
    clauses = [
        f"c.head_bytes <= {limits.budget - appended_bytes(messages)}",
        PATCHABLE_HEAD,
        live_condition(str(now)),
    ]
    # A head of an older layout has no sealed_ids: ARRAY_CONTAINS is then undefined and the
    # patch refused, and the store rewrites the head once in today's layout (`has_room`).
    for message in messages:
        if message.get("id") is not None:
            quoted = json.dumps(message["id"])
            clauses.append(f'NOT ARRAY_CONTAINS(c.messages, {{"id": {quoted}}}, true)')
            clauses.append(f"NOT ARRAY_CONTAINS(c.sealed_ids, {quoted})")
    return "FROM c WHERE " + " AND ".join(clauses)


def header_operations(update: HeaderUpdate, now: str) -> list[list[dict[str, Any]]]:
    """Patch requests (each within the operation limit) that apply `update`.

    Raises InvalidInputError for a field that is not a header field (an external id, the
    counters, ...), as `HeaderUpdate.apply` does: the names become patch paths.
    """
    update.apply({})
    operations: list[dict[str, Any]] = [
        *(_field_operation(name, value) for name, value in update.fields.items()),
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
    # `updated_at` (last activity, the listing order) stays.
    stamp = {"op": "set", "path": "/header_updated_at", "value": now}
    return [[*chunk, stamp] for chunk in chunks]


def _field_operation(name: str, value: Any) -> dict[str, Any]:
    # No `ttl` is "never expires" for Cosmos DB; a null ttl is an invalid item there.
    if name == "ttl" and value is None:
        return {"op": "remove", "path": "/ttl"}
    return {"op": "set", "path": f"/{name}", "value": value}


def updated_head(head: dict[str, Any], update: HeaderUpdate, now: str) -> dict[str, Any]:
    """`head` (in today's layout) with `update` applied, for a whole-item replace.

    Raises InvalidInputError for a field that is not a header field.
    """
    body = {**update.apply(head), "header_updated_at": now}
    if body.get("ttl") is None:
        body.pop("ttl", None)
    return with_head_bytes(body)


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def cleared_head(head: dict[str, Any], generation: str, now: str) -> dict[str, Any]:
    """`head` without messages, in a new `generation`: its old segments are dead at once."""
    return with_head_bytes(
        {
            **strip_system_properties(head),
            "generation": generation,
            "messages": [],
            "sealed_ids": [],
            "message_count": 0,
            "total_tokens": 0,
            "segment_count": 0,
            "first_segment": 0,
            "pinned_system": False,
            "updated_at": now,
        }
    )


# -- replacing or removing one message --------------------------------------------------------


def replaced(
    messages: Sequence[dict[str, Any]], message_id: str, new: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """`messages` with the one of id `message_id` replaced by `new` (removed when None), and
    that old message; None when no message has that id."""
    for position, old in enumerate(messages):
        if old.get("id") == message_id:
            rest = list(messages[position + 1 :])
            return [*messages[:position], *([new] if new is not None else []), *rest], old
    return None


def _counted(
    head: dict[str, Any], old: dict[str, Any], new: dict[str, Any] | None, now: str
) -> dict[str, Any]:
    """`head` with its counters following the replacement of `old` by `new`."""
    tokens = int(head.get("total_tokens") or 0) - message_tokens(old)
    return {
        **head,
        "message_count": max(0, int(head.get("message_count") or 0) - (new is None)),
        # Clamped: counters of seed documents may be off; a negative total would not load.
        "total_tokens": max(0, tokens + message_tokens(new)),
        "updated_at": now,
    }


def _still_pinned(head: dict[str, Any], messages: Sequence[dict[str, Any]]) -> bool:
    """Whether the head's first message is the conversation's leading system prompt.

    Without segments the head holds the whole conversation. With them, only the prompt that
    was pinned before may stay pinned: any other head message is newer than the segments.
    """
    first = messages[0] if messages else None
    if first is None or first.get("role") != "system":
        return False
    if not live_segment_count(head):
        return True
    before = head.get("messages") or []
    return is_pinned_system(before, head) and before[0].get("id") == first.get("id")


def replace_in_head(
    head: dict[str, Any],
    etag: str,
    message_id: str,
    new: dict[str, Any] | None,
    limits: SizeLimits,
    now: str,
) -> list[tuple[Any, ...]] | None:
    """Batch operations replacing the message in the head by ETag, sealing the oldest messages
    if a longer message no longer fits; None when the head does not hold it."""
    edit = replaced(head.get("messages", []), message_id, new)
    if edit is None:
        return None
    messages, old = edit
    base = {**_counted(head, old, new, now), "pinned_system": _still_pinned(head, messages)}
    new_head, segments = seal_into_head({**base, "messages": []}, messages, limits)
    return sealing_batch(new_head, segments, etag)


def replace_in_segment(
    head: dict[str, Any],
    head_etag: str,
    segment: dict[str, Any],
    message_id: str,
    new: dict[str, Any] | None,
    now: str,
) -> list[tuple[Any, ...]] | None:
    """Batch operations replacing the message in the segment and the head's counters, each by
    ETag; None when the segment no longer holds it.

    A segment is not re-split: a longer message may take it past `SizeLimits.item_bytes`
    (Cosmos DB's own 2 MB item limit still applies: InvalidInputError).
    """
    edit = replaced(segment.get("messages", []), message_id, new)
    if edit is None:
        return None
    messages, old = edit
    body = {**strip_system_properties(segment), "messages": messages}
    if json_size(body) > COSMOS_ITEM_LIMIT - SYSTEM_PROPERTY_BYTES:
        raise InvalidInputError("the edited message makes its segment exceed the 2 MB item limit")
    new_head = with_head_bytes(
        {**_counted(head, old, new, now), "sealed_ids": _resealed(head, message_id, new)}
    )
    return [replace_operation(body, segment["_etag"]), replace_operation(new_head, head_etag)]


def _resealed(head: dict[str, Any], message_id: str, new: dict[str, Any] | None) -> list[str]:
    """The head's sealed ids after the sealed message `message_id` became `new` (or went)."""
    replacement = [] if new is None or new.get("id") is None else [str(new["id"])]
    return [
        i
        for sealed in sealed_ids(head)
        for i in (replacement if sealed == message_id else [sealed])
    ]


# -- share links -------------------------------------------------------------------------------


def share_partition(token_hash: str) -> str:
    """The partition of a share item: derived from the token alone, so resolving it is one
    point read, and apart from every customer's partition."""
    return SHARE_PARTITION_PREFIX + token_hash


def share_item(link: ShareLink, now: int) -> dict[str, Any]:
    """The item of a share link; with a `ttl` (at least 1 s) when it expires."""
    item: dict[str, Any] = {
        "id": link.token_hash,
        "customer_id": share_partition(link.token_hash),
        "type": SHARE_LINK_TYPE,
        "owner_customer_id": link.customer_id,
        "conversation_id": link.conversation_id,
        "created_at": format_timestamp(link.created_at),
        "expires_at": None if link.expires_at is None else format_timestamp(link.expires_at),
    }
    if link.expires_at is not None:
        item["ttl"] = max(1, int(link.expires_at.timestamp()) - now)
    return item


def share_link_from_item(item: dict[str, Any], now: float) -> ShareLink | None:
    """The link an item holds; None for another kind of item or a link that has expired
    (the service deletes it by its `ttl`; a server that does not expire items still has it)."""
    if item.get("type") != SHARE_LINK_TYPE:
        return None
    link = ShareLink(
        token_hash=item["id"],
        customer_id=item["owner_customer_id"],
        conversation_id=item["conversation_id"],
        created_at=item["created_at"],
        expires_at=item.get("expires_at"),
    )
    if link.expires_at is not None and link.expires_at.timestamp() <= now:
        return None
    return link
