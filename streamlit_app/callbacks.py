"""Widget callbacks that report store errors on the page instead of raising.

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

P = ParamSpec("P")
ERROR_KEY = "callback_error"


def guarded(action: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> Callable[[], None]:
    """A callback running `action(*args, **kwargs)` that keeps a store error for display."""

    def run() -> None:
        try:
            action(*args, **kwargs)
        except InvalidInputError as exc:
            st.session_state[ERROR_KEY] = f"That is not possible: {exc}"
        except ConversationNotFoundError:
            st.session_state[ERROR_KEY] = "That conversation or message no longer exists."
        except ConversationStoreError as exc:
            st.session_state[ERROR_KEY] = f"That did not work: {exc}"

    return run


def show_callback_error() -> None:
    """Show, once, the error a callback of the previous interaction kept."""
    if ERROR_KEY in st.session_state:
        st.warning(str(st.session_state.pop(ERROR_KEY)))
