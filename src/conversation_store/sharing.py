"""Pure read-only share links: the token, its hash, and the old format's detector.

A token is `secrets.token_urlsafe(32)`: 256 random bits as 43 base64url characters, and
nothing else, so decoding it in any way reveals neither the customer nor the conversation.
The store keeps a `ShareLink` record under `token_hash(token)` (SHA-256, hex), never the
token itself, and the conversation's header `share_id` names the hash of its current link:
opening a link is one point read by that hash, and re-sharing or unsharing revokes it.

Links of the old format (base64 JSON `[1, customer_id, conversation_id, nonce]`) are
recognised only to be refused with a clear message; what they name is never used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import ShareLink, utc_now

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 chars, no padding
MAX_LEGACY_TOKEN_CHARS = 2048
EXPIRED_LEGACY_LINK = "this link has expired; ask for a new one"
MALFORMED_LINK = "share link is malformed"


def new_share_token() -> str:
    """A fresh link token: 256 random bits, base64url."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The key the store keeps a link under: SHA-256 of the token, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def checked_token_hash(token: object) -> str:
    """The hash of `token` if it has the shape of a current token.

    Raises InvalidInputError: EXPIRED_LEGACY_LINK for an old-format token, MALFORMED_LINK
    for anything else.
    """
    if isinstance(token, str) and _TOKEN_SHAPE.fullmatch(token):
        return token_hash(token)
    if is_legacy_token(token):
        raise InvalidInputError(EXPIRED_LEGACY_LINK)
    raise InvalidInputError(MALFORMED_LINK)


def is_legacy_token(token: object) -> bool:
    """True if `token` decodes as an old-format link (base64 JSON `[1, str, str, str]`)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_LEGACY_TOKEN_CHARS:
        return False
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError, binascii.Error):
        return False
    return (
        isinstance(data, list)
        and len(data) == 4
        and data[0] == 1
        and all(isinstance(part, str) for part in data[1:])
    )


def new_share_link(
    token: str, customer_id: str, conversation_id: str, *, expires_in: int | None
) -> ShareLink:
    """The record of a link made now, expiring `expires_in` seconds from now (None: never)."""
    now = utc_now()
    return ShareLink(
        token_hash=token_hash(token),
        customer_id=customer_id,
        conversation_id=conversation_id,
        created_at=now,
        expires_at=None if expires_in is None else now + timedelta(seconds=expires_in),
    )


def is_link_expired(link: ShareLink, now: datetime | None = None) -> bool:
    return link.expires_at is not None and link.expires_at <= (now or utc_now())
