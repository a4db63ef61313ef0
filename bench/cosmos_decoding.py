"""Building the models of a full Cosmos DB load, without the server: the decode step alone.

    python -m bench.cosmos_decoding     # a few seconds

A conversation of `MESSAGES` 200-character messages is split into its head and segment items
by the store's own `items.new_items` (default `SizeLimits()`), given the system properties the
Cosmos SDK returns (`_rid`, `_self`, `_etag`, `_attachments`, `_ts`) and passed through JSON, so
every item is a fresh dict as the SDK hands it over. Timed: `items.conversation_from_items`
(what a full load runs after its reads), against one `Conversation.model_validate` of the same
document for reference.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from conversation_store import Conversation, Message
from conversation_store.ids import new_message_id
from conversation_store.stores.cosmos import items

from .stats import summarize
from .workload import message_text, role_of, tokens_of

MESSAGES = 10_000
REPETITIONS = 15


def stored_items() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = random.Random(16)
    messages = [
        Message(
            id=new_message_id(),
            role=role_of(n),  # type: ignore[arg-type]
            content=(text := message_text(rng, 200)),
            tokens=tokens_of(text),
        )
        for n in range(1, MESSAGES + 1)
    ]
    conversation = Conversation(
        id="c_decode", customer_id="bench", message_count=MESSAGES, messages=messages
    )
    head, segments = items.new_items(conversation, items.SizeLimits())
    return as_returned(head), [as_returned(s) for s in segments]


def as_returned(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the SDK returns it: parsed from JSON, with the system properties."""
    system = {
        "_rid": "AAAAAA==",
        "_self": "dbs/x/colls/y/docs/z/",
        "_etag": '"0000"',
        "_attachments": "attachments/",
        "_ts": 1_700_000_000,
    }
    returned: dict[str, Any] = json.loads(json.dumps({**item, **system}))
    return returned


def run() -> dict[str, Any]:
    head, segments = stored_items()
    document = items.conversation_from_items(head, segments).to_document()
    ours, reference = [], []
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        loaded = items.conversation_from_items(head, segments)
        ours.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        Conversation.model_validate(document)
        reference.append((time.perf_counter() - started) * 1000)
    assert len(loaded.messages) == MESSAGES
    return {
        "messages": MESSAGES,
        "segments": len(segments),
        "decode_ms": summarize(ours),
        "model_validate_ms": summarize(reference),
    }


def main() -> None:
    figures = run()
    print(
        f"{figures['messages']:,} messages in a head and {figures['segments']} segments: "
        f"conversation_from_items median {figures['decode_ms']['median']:.1f} ms, "
        f"Conversation.model_validate median {figures['model_validate_ms']['median']:.1f} ms"
    )


if __name__ == "__main__":
    main()
