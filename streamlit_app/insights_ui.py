"""Rendering of the insights page: the customer's totals (`get_stats`) and charts of their
recent conversations (`compute_insights`)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from conversation_store import (
    ConversationNotFoundError,
    ConversationStoreError,
    ConversationSummary,
    Stats,
)

from .callbacks import forget_save_status
from .chat_session import ChatSession
from .insight_data import compute_insights, every_day
from .plain import markdown_literal
from .sidebar_groups import display_title
from .sidebar_ui import UNTITLED_ROW, browser_timezone

MAX_CONVERSATIONS = 200  # listed for the tokens chart
MAX_LOADED = 50  # loaded with their messages for the per-day chart
CHAT_PAGE = "pages/chat.py"


def render_insights(chat: ChatSession) -> None:
    try:
        stats = chat.manager.get_stats(chat.customer_id)
        summaries = chat.recent_conversations(
            pages=MAX_CONVERSATIONS // 50, page_size=50, archived=None
        ).items
        conversations = []
        for summary in summaries[:MAX_LOADED]:
            try:
                conversations.append(chat.manager.load_conversation(summary.id, chat.customer_id))
            except ConversationNotFoundError:
                continue  # deleted meanwhile
    except ConversationStoreError as exc:
        st.error(f"Could not read your conversations: {exc}")
        return
    if not stats.conversations:
        st.info("No saved conversations yet: start chatting and come back.")
        return
    render_totals(stats, chat, summaries)
    insights = compute_insights(summaries, conversations, tz=browser_timezone())
    st.subheader("Messages per day")
    st.bar_chart(every_day(insights.messages_per_day), x="day", y="messages")
    st.subheader("Tokens per conversation")
    st.bar_chart(  # the largest on top
        insights.tokens_per_conversation_chart(),
        x="conversation",
        y="tokens",
        horizontal=True,
        sort="-tokens",
    )
    if len(summaries) > MAX_LOADED:
        st.caption(
            f"The charts show your {MAX_LOADED} most recent conversations (messages per day) "
            f"and the largest of your {len(summaries)} most recent (tokens)."
        )


def render_totals(
    stats: Stats, chat: ChatSession, summaries: Sequence[ConversationSummary]
) -> None:
    """Every conversation of the customer, archived ones included; the longest is named (a
    button that opens it in the chat) when it is among the listed `summaries`."""
    conversations, messages, tokens = st.columns(3)
    conversations.metric("Conversations", f"{stats.conversations:,}")
    messages.metric("Messages", f"{stats.messages:,}")
    tokens.metric("Tokens", f"{stats.tokens:,}")
    average, longest, _ = st.columns(3)
    average.metric("Messages per conversation", f"{stats.average_messages:,.1f}")
    longest.metric("Longest conversation", f"{stats.longest_conversation_messages:,} messages")
    named = [s for s in summaries if s.id == stats.longest_conversation_id]
    if named and longest.button(
        markdown_literal(display_title(named[0], untitled=UNTITLED_ROW)),
        key="open_longest",
        icon=":material/forum:",
        type="tertiary",
    ):
        _open_in_chat(chat, named[0].id)


def _open_in_chat(chat: ChatSession, conversation_id: str) -> None:
    try:
        chat.open(conversation_id)
    except ConversationStoreError as exc:  # deleted meanwhile, or the store is unreachable
        st.error(f"That conversation could not be opened: {exc}")
        return
    forget_save_status()
    st.switch_page(CHAT_PAGE)
