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

What the stores read back may have been changed by hand, so the rest of the reading is here
too: `readable` turns a stored form that does not validate into an InvalidInputError naming
the conversation, and the small readers of single stored documents (`stored_document`,
`is_system_body`, `message_tokens`) take any JSON, or none, without raising.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import ConversationKey, Message
from conversation_store.validation import MAX_TOKENS

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


def counted_tokens(tokens: object) -> int:
    """What a stored message's token count adds to its conversation's `total_tokens`: the
    count, or 0 for one no message written through the API has (not an integer in
    0..MAX_TOKENS: a message changed by hand), which a 64-bit counter might not even hold."""
    if type(tokens) is int and 0 <= tokens <= MAX_TOKENS:
        return tokens
    return 0


def message_tokens(document: object) -> int:
    """The `counted_tokens` of a stored message document (0 for one that is no object)."""
    return counted_tokens(document.get("tokens")) if isinstance(document, dict) else 0


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


@contextmanager
def readable(key: ConversationKey) -> Iterator[None]:
    """A stored row that no longer validates (written by hand, or by an older version under
    older rules) is an InvalidInputError naming it, never a JSON, pydantic, recursion or
    overflow error: an export or a transfer then records that one conversation as failed."""
    try:
        yield
    except InvalidInputError:
        raise
    except (ValueError, RecursionError, OverflowError) as exc:
        raise InvalidInputError(
            f"conversation {key.conversation_id!r} of customer {key.customer_id!r} is stored "
            f"in a form that cannot be read ({type(exc).__name__})"
        ) from exc
