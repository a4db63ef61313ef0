"""The anonymous visitor in the browser: the `cs_identity` cookie, "Forget me on this browser",
and the one-time move of an old `?cid=` link's history (the logic is in `identity`).

The secret is read once per session from the cookies the browser sent (`st.context.cookies`,
or the dict tests inject under `state_keys.COOKIES`: AppTest sends none), kept in session
state, and written back with a small script until the browser is known to hold it. It never
goes into the URL, a log, an export or the visible page.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from conversation_store import ConversationManager, ConversationStoreError

from . import state_keys
from .identity import (
    IDENTITY_COOKIE,
    LEGACY_PARAM,
    cookie_script,
    legacy_customer_id,
    new_browser_secret,
    usable_secret,
)

MOVED = (
    "Your conversations from the old link were moved to this browser; the old link no longer "
    "opens them."
)
NOTHING_MOVED = "The old link opens no conversations any more: they were moved, or there were none."
FORGOTTEN = (
    "This browser has forgotten you: it starts afresh, and your earlier conversations can no "
    "longer be opened from it."
)


def browser_cookies() -> Mapping[str, str]:
    """The cookies the browser sent when this session started."""
    injected = st.session_state.get(state_keys.COOKIES)
    if isinstance(injected, Mapping):
        return injected
    return st.context.cookies


def anonymous_secret() -> str:
    """This visitor's secret: the browser's, else a new one; the browser is told to keep it."""
    secret = st.session_state.get(state_keys.BROWSER_SECRET)
    if not isinstance(secret, str):
        secret = usable_secret(browser_cookies().get(IDENTITY_COOKIE)) or new_browser_secret()
        st.session_state[state_keys.BROWSER_SECRET] = secret
    if browser_cookies().get(IDENTITY_COOKIE) != secret:
        # Written on every run until a new session reads it back: a script that ran once
        # before the page was left is enough, and writing the same cookie again is harmless.
        with st.sidebar:
            st.html(cookie_script(secret), unsafe_allow_javascript=True)
    return secret


def forget_me() -> None:
    """Callback of "Forget me on this browser": a new secret replaces the browser's."""
    st.session_state[state_keys.BROWSER_SECRET] = new_browser_secret()
    st.session_state[state_keys.FORGOTTEN] = True


def show_forgotten() -> None:
    """Say, once, that "Forget me" took effect."""
    if st.session_state.pop(state_keys.FORGOTTEN, False):
        st.success(FORGOTTEN)


def adopt_legacy_history(manager: ConversationManager, customer_id: str) -> None:
    """Move the history an old `?cid=` link named to `customer_id`, once, and say so.

    `cid` leaves the URL once the move is done (a failed move keeps it, so a reload retries).
    """
    if LEGACY_PARAM not in st.query_params:
        return
    legacy = legacy_customer_id(st.query_params)
    if legacy is not None and legacy != customer_id:
        try:
            moved = manager.move_customer_data(legacy, customer_id)
        except ConversationStoreError as exc:
            st.error(f"Your conversations from the old link could not be moved yet: {exc}")
            return
        if moved:
            st.success(MOVED)
        else:
            st.info(NOTHING_MOVED)
    del st.query_params[LEGACY_PARAM]
