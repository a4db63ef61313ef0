"""Identifier generation and validation.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) behind a short
prefix, so they sort by creation time, are URL-safe and never contain the characters
Cosmos DB forbids in ids.
"""

from __future__ import annotations

import os
import re
import time

from conversation_store.exceptions import InvalidInputError

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_ID_LENGTH = 255  # Cosmos DB's limit for the id property
_FORBIDDEN = re.compile(r"[/\\?#\x00-\x1f\x7f]")


def new_ulid() -> str:
    """A 26-character, time-sortable, URL-safe identifier."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_conversation_id() -> str:
    return f"c_{new_ulid()}"


def new_message_id() -> str:
    return f"m_{new_ulid()}"


def validate_id(value: object, what: str) -> str:
    """Return `value` if it is usable as a Cosmos id or partition key, else raise.

    Raises:
        InvalidInputError: not a string, empty, too long, surrounding blanks, or it
            holds `/ \\ ? #` or control characters.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {type(value).__name__}")
    if not value or value.strip() != value:
        raise InvalidInputError(f"{what} must be non-empty without surrounding whitespace")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    if _FORBIDDEN.search(value):
        raise InvalidInputError(f"{what} {value!r} contains one of / \\ ? # or a control character")
    return value
