"""What building 10,000 message objects costs, apart from any store: the wall under the loads.

    python -m bench.model_cost     # a few seconds

10,000 stored 200-character messages (their JSON as the stores write it) turned into objects
in several ways, each the median of `REPETITIONS`: what SQLite and PostgreSQL loads run
(`decoding.messages_from_json`: pydantic-core's bulk `validate_json` of the array with the
cyclic collector paused), the same call with the collector left on, `Message.model_construct`
of the already parsed dicts (no validation at all), a plain `__slots__` class, and tuples;
and `json.loads` of the array for reference.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from conversation_store import Message
from conversation_store.decoding import messages_from_json

MESSAGES = 10_000
REPETITIONS = 9
FIELDS = tuple(Message.model_fields)


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
    messages = [
        Message(id=f"m_{n:026d}", role="user" if n % 2 else "assistant", content="x" * 200)
        for n in range(MESSAGES)
    ]
    bodies = [m.model_dump_json() for m in messages]
    array = "[" + ",".join(bodies) + "]"
    documents = json.loads(array)
    validator = TypeAdapter(list[Message]).validator
    rows = {
        "the stores' decode: validate_json of the array, collector paused": lambda: (
            messages_from_json(bodies)
        ),
        "validate_json of the array, collector on": lambda: validator.validate_json(array),
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
