"""Widget callbacks that report store errors on the page instead of raising, say what they
did (a toast), and close the menu they were picked from.

Actions run as `on_click` callbacks, so they take effect before the next run draws the page;
an error inside one is kept in session state and shown by `show_callback_error` in that run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

import streamlit as st

from conversation_store import (
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
)

from . import state_keys
from .plain import markdown_literal

P = ParamSpec("P")


def guarded(action: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> Callable[[], None]:
    """A callback running `action(*args, **kwargs)` that keeps a store error for display."""

    def run() -> None:
        try:
            action(*args, **kwargs)
        except ConversationStoreError as exc:
            st.session_state[state_keys.CALLBACK_ERROR] = _explain(exc)

    return run


def _explain(error: ConversationStoreError) -> str:
    if isinstance(error, InvalidInputError):
        return f"That is not possible: {error}"
    if isinstance(error, ConversationNotFoundError):
        return "That conversation or message no longer exists."
    return f"That did not work: {error}"


def show_callback_error() -> None:
    """Show, once, the error a callback of the previous interaction kept."""
    if state_keys.CALLBACK_ERROR in st.session_state:
        st.warning(str(st.session_state.pop(state_keys.CALLBACK_ERROR)))


def forget_save_status() -> None:
    """Drop the status line of the last write, when another conversation opens."""
    st.session_state.pop(state_keys.SAVE_STATUS, None)


def announce(text: str) -> None:
    """Have the next run say, in a toast, what an action just did."""
    st.session_state[state_keys.TOAST] = text


def show_announcement() -> None:
    """The toast an action of the previous interaction asked for, once."""
    if state_keys.TOAST in st.session_state:
        st.toast(markdown_literal(str(st.session_state.pop(state_keys.TOAST))))


def close_menu(key: str) -> None:
    """Close the popover whose key is `key` (it tracks its state: `on_change="rerun"`)."""
    st.session_state[key] = False
