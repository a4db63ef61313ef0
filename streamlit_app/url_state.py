"""The open conversation in the page's address: `?c=<conversation id>` and nothing else.

A reload, or the address opened again in the same browser, reopens that conversation for its
owner; the id is looked up in the current customer's partition only, so in another browser
(or account) the same address opens nothing of the owner's: it says so and starts a new
conversation, exactly as for an id that was deleted, never existed or is malformed.
"""

from __future__ import annotations

import streamlit as st

from conversation_store import ConversationNotFoundError, ConversationStoreError, InvalidInputError

from . import state_keys
from .callbacks import forget_save_status
from .chat_session import ChatSession

CONVERSATION_PARAM = "c"
NOT_OPENED = (
    "The conversation in this link cannot be opened here: it was deleted, or it belongs to "
    "another browser or account. Here is a new conversation."
)


def follow_address(chat: ChatSession) -> None:
    """Open the conversation `?c=` names when this session has not seen that value yet: the
    address it was opened with (a reload, a link). A value the app wrote itself is never
    followed again, so a rerun the browser sends with an address from before the last click
    cannot reopen the conversation the user just left."""
    wanted = st.query_params.get(CONVERSATION_PARAM)
    seen = _seen()
    if wanted is None or wanted in seen:
        return
    seen.add(wanted)
    if chat.stored and wanted == chat.conversation_id:
        return
    try:
        chat.open(wanted)
    except (ConversationNotFoundError, InvalidInputError):
        chat.new_conversation()
        st.info(NOT_OPENED, icon=":material/link_off:")
    except ConversationStoreError as exc:  # unavailable, throttled: the link may work later
        chat.new_conversation()
        st.error(f"The conversation in this link could not be loaded: {exc}")
    forget_save_status()


def write_address(chat: ChatSession) -> None:
    """Put the open conversation's id in the address (none for one not stored yet)."""
    current = chat.conversation_id if chat.stored else None
    if current is None:
        st.query_params.pop(CONVERSATION_PARAM, None)
    else:
        _seen().add(current)
        if st.query_params.get(CONVERSATION_PARAM) != current:
            st.query_params[CONVERSATION_PARAM] = current


def _seen() -> set[str]:
    seen: set[str] = st.session_state.setdefault(state_keys.URL_SEEN, set())
    return seen
