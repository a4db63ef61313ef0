"""The read-only view of a shared conversation: `?share=<token>` on the app's address.

The viewer is nobody's customer here: no input box, no sidebar, no history of their own. A
damaged, revoked or stale link says so plainly.
"""

from __future__ import annotations

import streamlit as st

from conversation_store import (
    Conversation,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
)

from . import services
from .chat_session import UNTITLED
from .chat_ui import render_transcript
from .share_links import SHARE_PARAM, app_address

DAMAGED = "This share link is damaged. Check that it was copied whole."
UNAVAILABLE = (
    "This shared conversation is no longer available: its link was revoked or the "
    "conversation was deleted."
)


def render_shared_view() -> None:
    conversation = _open_shared(st.query_params.get(SHARE_PARAM, ""))
    if conversation is not None:
        st.title(conversation.title or UNTITLED)
        if conversation.summary:
            st.caption(conversation.summary)
        st.info("A read-only copy shared with you. Replies cannot be added here.")
        render_transcript(conversation.messages)
    # A plain link: leaving loads the app afresh, as the viewer's own anonymous visitor.
    st.link_button("Start your own conversation", app_address(st.context.url))


def _open_shared(token: str) -> Conversation | None:
    """The shared conversation, or None after showing why it cannot be opened."""
    try:
        return services.manager().open_shared_conversation(token)
    except InvalidInputError:
        st.error(DAMAGED)
    except ConversationNotFoundError:
        st.error(UNAVAILABLE)
    except (services.ConfigurationError, ConversationStoreError) as exc:
        st.error(f"The shared conversation could not be loaded: {exc}")
    return None
