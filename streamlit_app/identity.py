"""Who is chatting: a signed-in user's stable id, or an anonymous id kept in the page URL.

Pure functions over `st.user` and `st.query_params`-like mappings, so they test without
Streamlit. Anonymous ids have one fixed shape (`anon_` + 32 hex digits) that no identity
provider's `oid` or `sub` has, so a hand-edited URL can never name a signed-in user's history.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, MutableMapping

from conversation_store import InvalidInputError, validate_id

ANONYMOUS_PARAM = "cid"
_ANONYMOUS_ID = re.compile(r"anon_[0-9a-f]{32}")
USER_ID_CLAIMS = ("oid", "sub")  # Entra ID's object id first: stable across apps of a tenant


def signed_in_customer_id(user: Mapping[str, object]) -> str | None:
    """The stable id of a signed-in user (claim `oid`, else `sub`); None when signed out."""
    if user.get("is_logged_in") is not True:
        return None
    for claim in USER_ID_CLAIMS:
        value = user.get(claim)
        if isinstance(value, str) and value:
            return _usable_id(value)
    return None


def anonymous_customer_id(
    query_params: MutableMapping[str, str], *, remembered: str | None = None
) -> str:
    """The anonymous id in `query_params["cid"]`, else `remembered`, else a new one.

    The id is (re)written to `query_params`: Streamlit drops query parameters when the user
    switches pages, so the session remembers the id and puts it back in the URL.
    """
    value = query_params.get(ANONYMOUS_PARAM)
    if value is not None and _ANONYMOUS_ID.fullmatch(value):
        return value
    if remembered is not None and _ANONYMOUS_ID.fullmatch(remembered):
        chosen = remembered
    else:
        chosen = new_anonymous_id()
    query_params[ANONYMOUS_PARAM] = chosen
    return chosen


def new_anonymous_id() -> str:
    return f"anon_{uuid.uuid4().hex}"


def new_session_id() -> str:
    """One id per Streamlit session, stored on the conversations it writes."""
    return f"s_{uuid.uuid4().hex}"


def _usable_id(value: str) -> str:
    # A claim holding a character Cosmos forbids in ids is hashed rather than rejected.
    try:
        return validate_id(value, "customer id")
    except InvalidInputError:
        return "user_" + hashlib.sha256(value.encode()).hexdigest()
