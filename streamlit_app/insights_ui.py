"""Rendering of the insights page from `compute_insights`."""

from __future__ import annotations

import streamlit as st

from conversation_store import ConversationNotFoundError, ConversationStoreError

from .chat_session import ChatSession
from .insight_data import compute_insights
from .sidebar_ui import browser_timezone

MAX_CONVERSATIONS = 200  # listed for the counts
MAX_LOADED = 50  # loaded with their messages for the per-day chart


def render_insights(chat: ChatSession) -> None:
    try:
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
    if not summaries:
        st.info("No saved conversations yet: start chatting and come back.")
        return
    insights = compute_insights(summaries, conversations, tz=browser_timezone())
    conversations_metric, messages_metric, tokens_metric = st.columns(3)
    conversations_metric.metric("Conversations", insights.conversation_count)
    messages_metric.metric("Messages", insights.message_count)
    tokens_metric.metric("Tokens", insights.total_tokens)
    st.subheader("Messages per day")
    st.bar_chart(insights.messages_per_day_chart(), x="day", y="messages")
    st.subheader("Tokens per conversation")
    st.bar_chart(
        insights.tokens_per_conversation_chart(), x="conversation", y="tokens", horizontal=True
    )
    if len(summaries) > MAX_LOADED:
        st.caption(f"Messages per day counts your {MAX_LOADED} most recent conversations.")
