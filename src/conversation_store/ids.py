"""Identifier generation and validation.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) behind a short
prefix, so they sort by creation time, are URL-safe and never contain the characters
Cosmos DB forbids in ids.
"""

from __future__ import annotations

import base64
import os
import re
import time

from conversation_store.exceptions import InvalidInputError

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# base64's base32 alphabet, letter for letter, to Crockford's (which drops I, L, O and U).
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD.encode())
MAX_ID_BYTES = 255  # Cosmos DB's limit for the id property, in bytes of UTF-8
_FORBIDDEN = re.compile(r"[/\\?#\x00-\x1f\x7f]")
_RESERVED_NAMES = (".", "..")  # path segments: Cosmos DB cannot address such an item
# Internal items share the conversations' namespaces: Cosmos segment ids are
# `<conversation id>:<n>`, and share links live in `_share:<token hash>` partitions.
_SEGMENT_SUFFIX = re.compile(r":[0-9]+\Z")
SHARE_PARTITION_PREFIX = "_share:"


def new_ulid() -> str:
    """A 26-character, time-sortable, URL-safe identifier."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return ulid_text(value)


def ulid_text(value: int) -> str:
    """The 26 Crockford base32 digits of a 128-bit value, most significant first.

    26 digits hold 130 bits, so the value is shifted to end on a byte (136 bits, 17 bytes):
    base32 then reads it 5 bits at a time from the top, and its first 26 digits are ours.
    """
    digits = base64.b32encode((value << 6).to_bytes(17, "big"))[:26]
    return digits.translate(_TO_CROCKFORD).decode()


def new_conversation_id() -> str:
    return f"c_{new_ulid()}"


def new_message_id() -> str:
    return f"m_{new_ulid()}"


def validate_id(value: object, what: str) -> str:
    """Return `value` if it is usable as a Cosmos id or partition key, else raise.

    `what` names the field in the error; a "customer id" and a "conversation id" also get the
    reserved forms of `validate_customer_id` and `validate_conversation_id`.

    Raises:
        InvalidInputError: not a string, empty, over 255 bytes of UTF-8, not valid Unicode
            (a lone surrogate), surrounding blanks, `.` or `..`, a reserved form, or it holds
            `/ \\ ? #` or control characters.
    """
    if what == "customer id":
        return validate_customer_id(value, what)
    if what == "conversation id":
        return validate_conversation_id(value, what)
    return _validate_any_id(value, what)


def _validate_any_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {type(value).__name__}")
    if not value or value.strip() != value:
        raise InvalidInputError(f"{what} must be non-empty without surrounding whitespace")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not valid Unicode text") from exc
    if size > MAX_ID_BYTES:
        raise InvalidInputError(f"{what} is longer than {MAX_ID_BYTES} bytes of UTF-8")
    if _FORBIDDEN.search(value):
        raise InvalidInputError(f"{what} {value!r} contains one of / \\ ? # or a control character")
    if value in _RESERVED_NAMES:
        raise InvalidInputError(f"{what} may not be {value!r}")
    return value


def validate_customer_id(value: object, what: str = "customer id") -> str:
    """`validate_id`, and not `_share:...` (share-link partitions). Raises InvalidInputError."""
    checked = _validate_any_id(value, what)
    if checked.startswith(SHARE_PARTITION_PREFIX):
        raise InvalidInputError(f"{what} may not start with {SHARE_PARTITION_PREFIX!r} (reserved)")
    return checked


def validate_conversation_id(value: object, what: str = "conversation id") -> str:
    """`validate_id`, and not ending with `:<digits>` (segment ids). Raises InvalidInputError."""
    checked = _validate_any_id(value, what)
    if _SEGMENT_SUFFIX.search(checked):
        raise InvalidInputError(f"{what} may not end with ':<digits>' (reserved)")
    return checked
