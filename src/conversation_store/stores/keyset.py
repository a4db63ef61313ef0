"""Opaque continuation tokens for keyset paging (newest first) in the embedded stores."""

from __future__ import annotations

import base64
import binascii
import json

from ..exceptions import InvalidInputError


def encode_keyset(updated_at: str, conversation_id: str) -> str:
    raw = json.dumps([updated_at, conversation_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_keyset(token: str) -> tuple[str, str]:
    """Raises InvalidInputError for a token this module did not make."""
    try:
        updated_at, conversation_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInputError("continuation token is malformed") from exc
    if not isinstance(updated_at, str) or not isinstance(conversation_id, str):
        raise InvalidInputError("continuation token is malformed")
    return updated_at, conversation_id
