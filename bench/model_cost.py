"""What building 10,000 message objects costs, apart from any store: the wall under the loads.

    python -m bench.model_cost     # a few seconds

10,000 stored 200-character messages (their JSON as the stores write it) turned into objects
in several ways, each the median of `REPETITIONS`: what SQLite and PostgreSQL loads run
(`decoding.messages_from_json`: pydantic-core's bulk `validate_json` of the array with the
cyclic collector paused), the same call with the collector left on, the same call for a model
with `Message`'s fields all typed `Any` (what pydantic-core itself costs to build such an
instance, checking nothing), and for a model of 5 fields typed `Any` (the least a pydantic model
per message can cost), `Message.model_construct` of the already parsed dicts (no
validation at all), a plain `__slots__` class, and tuples; and `json.loads` of the array for
reference.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from conversation_store import Message
from conversation_store.decoding import collector_paused, messages_from_json

MESSAGES = 10_000
REPETITIONS = 9
FIELDS = tuple(Message.model_fields)


class Unchecked(BaseModel):
    """`Message`'s fields, every one typed `Any`; unknown fields kept, as `Message` keeps them."""

    model_config = ConfigDict(extra="allow")
    id: Any = None
    role: Any
    kind: Any = "message"
    content: Any = None
    timestamp: Any = None
    tokens: Any = None
    metadata: Any = Field(default_factory=dict)
    tool_calls: Any = None
    tool_call_id: Any = None
    name: Any = None
    raw: Any = None


class Minimal(BaseModel):
    """The fewest fields a chat message needs, every one typed `Any`, unknown fields
    ignored: the least a pydantic model per message can cost."""

    id: Any = None
    role: Any
    content: Any = None
    timestamp: Any = None
    tokens: Any = None


class Slots:
    """A plain class with one slot per `Message` field."""

    __slots__ = FIELDS

    def __init__(self, document: dict[str, Any]) -> None:
        for name in FIELDS:
            setattr(self, name, document.get(name))


def median_ms(call: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    if tuple(Unchecked.model_fields) != FIELDS:
        raise SystemExit("bench.model_cost: Unchecked no longer has the fields of Message")
    messages = [
        Message(id=f"m_{n:026d}", role="user" if n % 2 else "assistant", content="x" * 200)
        for n in range(MESSAGES)
    ]
    bodies = [m.model_dump_json() for m in messages]
    array = "[" + ",".join(bodies) + "]"
    documents = json.loads(array)
    validator = TypeAdapter(list[Message]).validator
    unchecked_validator = TypeAdapter(list[Unchecked]).validator
    minimal_validator = TypeAdapter(list[Minimal]).validator

    def unchecked(text: str) -> object:
        with collector_paused():
            return unchecked_validator.validate_json(text)

    def minimal(text: str) -> object:
        with collector_paused():
            return minimal_validator.validate_json(text)

    rows = {
        "the stores' decode: validate_json of the array, collector paused": lambda: (
            messages_from_json(bodies)
        ),
        "validate_json of the array, collector on": lambda: validator.validate_json(array),
        "validate_json of the array, every field typed Any, collector paused": lambda: (
            unchecked(array)
        ),
        "validate_json of the array, a 5-field model typed Any, collector paused": lambda: (
            minimal(array)
        ),
        "Message.model_construct of parsed dicts": lambda: [
            Message.model_construct(**d) for d in documents
        ],
        "plain __slots__ class": lambda: [Slots(d) for d in documents],
        "tuples": lambda: [tuple(d.values()) for d in documents],
        "json.loads of the array (reference)": lambda: json.loads(array),
    }
    print(f"| building {MESSAGES:,} messages | median ms |\n|---|---|")
    for name, call in rows.items():
        print(f"| {name} | {median_ms(call):.1f} |")


if __name__ == "__main__":
    main()
