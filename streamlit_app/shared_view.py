"""The read-only view of a shared conversation: `?share=<token>` on the app's address.

It shows a `SharedConversation` (the title and the messages) and nothing else: no input box, no
sidebar, no history of the viewer's, and no customer or conversation id, which the library
never hands out for a token. An expired, revoked, old-format or damaged link says so plainly.
"""

from __future__ import annotations

import streamlit as st

from conversation_store import (
    ConversationStoreError,
    InvalidInputError,
    SharedConversation,
    ShareLinkNotFoundError,
)

from . import services
from .chat_session import UNTITLED
from .chat_ui import render_transcript
from .share_links import SHARE_PARAM, app_address

UNAVAILABLE = (
    "This shared conversation is no longer available: its link expired or was revoked, or the "
    "conversation was deleted. Ask for a new link."
)
READ_ONLY = "A read-only copy shared with you. Replies cannot be added here."


def render_shared_view() -> None:
    shared = _open_shared(st.query_params.get(SHARE_PARAM, ""))
    if shared is not None:
        st.title(shared.title or UNTITLED)
        st.info(READ_ONLY)
        render_transcript(shared.messages)
    # A plain link: leaving loads the app afresh, as the viewer's own anonymous visitor.
    st.link_button("Start your own conversation", app_address(st.context.url))


def _open_shared(token: str) -> SharedConversation | None:
    """The shared conversation, or None after showing why it cannot be opened."""
    try:
        return services.manager().open_shared_conversation(token)
    except InvalidInputError as exc:  # an old-format link ("… ask for a new one"), or damaged
        st.error(f"This share link cannot be opened: {exc}.")
    except ShareLinkNotFoundError:
        st.error(UNAVAILABLE)
    except (services.ConfigurationError, ConversationStoreError) as exc:
        st.error(f"The shared conversation could not be loaded: {exc}")
    return None
