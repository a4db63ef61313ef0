"""Who is chatting: a signed-in user's stable id, or an anonymous visitor derived from a secret.

Pure functions (no Streamlit), so they test without a browser.

- A signed-in user is the provider's subject (`oid`, else `sub`).
- An anonymous visitor's browser holds a random secret (the `cs_identity` cookie). The stored
  customer id is `anonymous_` + the first 32 hex digits of HMAC-SHA-256(server key, secret):
  one-way, so an id seen in an export, a log or the database opens nothing.
- The id shape differs from the old `anon_` + 32 hex ids, which were the key itself (they sat
  in the `?cid=` of the page's URL): a `?cid=` of the old shape names a history to move to the
  visitor once (`legacy_customer_id`), and no current id ever has that shape, so no id found in
  an export or the database can be used to move a history away from its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import uuid
from collections.abc import Mapping
from pathlib import Path

from conversation_store import InvalidInputError, validate_id

IDENTITY_COOKIE = "cs_identity"
COOKIE_MAX_AGE = 365 * 24 * 3600  # one year, renewed on every visit that writes it
LEGACY_PARAM = "cid"
KEY_FILE_NAME = "identity.key"
KEY_BYTES = 32
MIN_CONFIGURED_KEY_CHARS = 32
ANONYMOUS_PREFIX = "anonymous_"
USER_ID_CLAIMS = ("oid", "sub")  # Entra ID's object id first: stable across apps of a tenant

_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 random bits
_LEGACY_ID = re.compile(r"anon_[0-9a-f]{32}")


def signed_in_customer_id(user: Mapping[str, object]) -> str | None:
    """The stable id of a signed-in user (claim `oid`, else `sub`); None when signed out."""
    if user.get("is_logged_in") is not True:
        return None
    for claim in USER_ID_CLAIMS:
        value = user.get(claim)
        if isinstance(value, str) and value:
            return _usable_id(value)
    return None


def new_browser_secret() -> str:
    """A new secret for a browser to keep: 256 random bits, URL- and cookie-safe."""
    return secrets.token_urlsafe(32)


def usable_secret(value: object) -> str | None:
    """`value` when it has the shape of a browser secret (a cookie may hold anything)."""
    return value if isinstance(value, str) and _SECRET.fullmatch(value) else None


def anonymous_customer_id(secret: str, key: bytes) -> str:
    """The stored customer id of the visitor holding `secret`; it reveals nothing of it."""
    digest = hmac.new(key, secret.encode("ascii"), hashlib.sha256).hexdigest()
    return ANONYMOUS_PREFIX + digest[:32]


def legacy_customer_id(query_params: Mapping[str, str]) -> str | None:
    """The old anonymous id in `?cid=` (`anon_` + 32 hex), whose history is to be moved."""
    value = query_params.get(LEGACY_PARAM)
    return value if value is not None and _LEGACY_ID.fullmatch(value) else None


def cookie_script(secret: str) -> str:
    """The `<script>` that makes the browser keep `secret` for this site, then removes itself
    from the page (so a saved copy of the page does not carry it).

    Set from the page, so it cannot be HttpOnly; `Secure` when the page is served over https.
    """
    if usable_secret(secret) is None:
        raise ValueError("not a browser secret")
    attributes = f"; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Strict"
    return (
        "<script>document.cookie = "
        f'"{IDENTITY_COOKIE}={secret}{attributes}"'
        ' + (location.protocol === "https:" ? "; Secure" : "");'
        " document.currentScript.remove();</script>"
    )


def configured_key(value: str | None) -> bytes | None:
    """The server key given by CONVERSATION_STORE_IDENTITY_KEY; None when it is unset.

    Raises ValueError when it is too short to be a secret.
    """
    if not value:
        return None
    if len(value) < MIN_CONFIGURED_KEY_CHARS:
        raise ValueError(
            f"CONVERSATION_STORE_IDENTITY_KEY must be at least {MIN_CONFIGURED_KEY_CHARS} "
            "characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value.encode("utf-8")


def key_from_file(path: Path) -> bytes:
    """The server key kept in `path`, created once (32 random bytes, mode 0600).

    Two processes starting together agree: the file appears whole or not at all (a hard
    link of a finished temporary file), and the one that loses the race reads the winner's.
    Raises ValueError when the file holds something else, OSError when it cannot be written.
    """
    if not path.exists():
        _create_key_file(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} is not an identity key ({KEY_BYTES} bytes); remove it")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        draft.unlink(missing_ok=True)


def new_session_id() -> str:
    """One id per Streamlit session, stored on the conversations it writes."""
    return f"s_{uuid.uuid4().hex}"


def _usable_id(value: str) -> str:
    # A claim holding a character Cosmos forbids in ids is hashed rather than rejected.
    try:
        return validate_id(value, "customer id")
    except InvalidInputError:
        return "user_" + hashlib.sha256(value.encode()).hexdigest()
