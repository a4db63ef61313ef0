"""Pure read-only share links.

Sharing stores a random nonce (`share_id`) on the conversation; the link token carries the
customer, the conversation and that nonce. Opening a link checks the nonce against the stored
one, so revoking (clearing `share_id`) or re-sharing kills every older link, and a token
cannot be forged without guessing 128 random bits.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets

from conversation_store.exceptions import InvalidInputError
from conversation_store.ids import validate_id


def new_share_id() -> str:
    return secrets.token_urlsafe(16)


def encode_share_token(customer_id: str, conversation_id: str, share_id: str) -> str:
    raw = json.dumps([1, customer_id, conversation_id, share_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_share_token(token: object) -> tuple[str, str, str]:
    """(customer_id, conversation_id, share_id). Raises InvalidInputError for a damaged token."""
    if not isinstance(token, str) or not 0 < len(token) <= 2048:
        raise InvalidInputError("share token is malformed")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInputError("share token is malformed") from exc
    if not (isinstance(data, list) and len(data) == 4 and data[0] == 1):
        raise InvalidInputError("share token is malformed")
    _, customer_id, conversation_id, share_id = data
    if not isinstance(share_id, str):
        raise InvalidInputError("share token is malformed")
    return (
        validate_id(customer_id, "customer id"),
        validate_id(conversation_id, "conversation id"),
        share_id,
    )


def share_id_matches(stored: str | None, presented: str) -> bool:
    return stored is not None and hmac.compare_digest(stored.encode(), presented.encode())
