"""Many stored messages made into `Message`s at once: one pydantic-core call, cyclic GC paused.

Every store's load decodes its messages here. A load of 10,000 messages allocates some 50,000
container objects (each message, its `__dict__`, its set of fields, its metadata and extra
dicts); every 700 of them set off a collection of the young generation, and whenever they
outnumber a quarter of the older objects a full collection walks the whole heap. None of them
can be garbage while the call runs (the list holds them all) and they form no cycles, so the
collector is paused for the call and resumed after it: `python -m bench.model_cost` shows what
it saves.

The collector's switch is process-wide. A call made while it is off (by the application, or
by a concurrent call here) leaves it as it is; a call made while it is on turns it on again at
its end, also if another thread turned it off in between.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter

from conversation_store.models import Message

# pydantic-core's own validator: TypeAdapter's Python wrapper costs more than 50 messages do.
_MESSAGE_LIST = TypeAdapter(list[Message]).validator


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off, if it was on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def messages_from_json(bodies: Sequence[str] | Sequence[bytes]) -> list[Message]:
    """The messages of stored JSON bodies (one object each, all text or all UTF-8 bytes),
    validated in one call.

    Raises ValueError (pydantic's ValidationError) for a body that is not one valid message.
    """
    with collector_paused():
        messages: list[Message] = _MESSAGE_LIST.validate_json(_json_array(bodies))
    if len(messages) != len(bodies):  # a hand-written body holding `{...}, {...}`
        raise ValueError("a stored message body is not one JSON object")
    return messages


def _json_array(bodies: Sequence[str] | Sequence[bytes]) -> str | bytes:
    """One JSON array of the bodies (the SQLite store reads its bodies as bytes)."""
    try:
        if bodies and isinstance(bodies[0], bytes):
            return b"[" + b",".join(bodies) + b"]"  # type: ignore[arg-type]
        return "[" + ",".join(bodies) + "]"  # type: ignore[arg-type]
    except TypeError as exc:  # a body neither text nor bytes, or one of the other kind
        raise ValueError("a stored message body is neither text nor bytes") from exc


def stored_document(body: str | bytes) -> object:
    """A stored body parsed, or None when it is not JSON (a BLOB written by hand)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def is_system_body(body: str | bytes) -> bool:
    """Whether a stored body is a system message's, which windows pin before them; a body
    that is no JSON object (written by hand) is not."""
    document = stored_document(body)
    return isinstance(document, dict) and document.get("role") == "system"


def messages_from_documents(documents: Sequence[Any]) -> list[Message]:
    """The messages of parsed stored documents, validated in one call.

    Raises ValueError (pydantic's ValidationError) for a document that is not a valid message.
    """
    with collector_paused():
        messages: list[Message] = _MESSAGE_LIST.validate_python(documents)
    return messages
