"""Opaque continuation tokens, shared by every store.

A token wraps a backend's position (a keyset for SQLite and memory, the SDK's token for Cosmos)
with the customer it was issued for, so a token is refused for another customer and a
tampered or truncated token is a clear InvalidInputError rather than a backend fault.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeGuard

from conversation_store.exceptions import InvalidInputError


def encode_continuation(customer_id: str, position: list[str]) -> str:
    raw = json.dumps({"v": 1, "c": customer_id, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continuation(token: str, customer_id: str) -> list[str]:
    """The position inside `token`. Raises InvalidInputError for a foreign or damaged token."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
        raise InvalidInputError("continuation token is malformed") from exc
    position = data.get("p") if isinstance(data, dict) else None
    if not _is_position(position) or data.get("v") != 1:
        raise InvalidInputError("continuation token is malformed")
    if data.get("c") != customer_id:
        raise InvalidInputError("continuation token was issued for another customer")
    return list(position)


def _is_position(position: object) -> TypeGuard[list[str]]:
    """A position as `encode_continuation` wrote it: a non-empty list of non-empty strings."""
    return (
        isinstance(position, list)
        and bool(position)
        and all(isinstance(p, str) and p for p in position)
    )
