"""Rendering of the sidebar: new, search, recent (grouped, paged, or the archived ones), and
each conversation's menu (rename, archive, delete), plus the open conversation's export.

Every action is an `on_click` callback (`callbacks.guarded`), so it has taken effect before
the next run draws the page; its store errors are shown, not raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from conversation_store import (
    ConversationStoreError,
    ConversationSummary,
    SearchHit,
    conversation_to_json,
    conversation_to_markdown,
)

from . import services, state_keys, visitor
from .callbacks import forget_save_status, guarded, show_callback_error
from .chat_session import UNTITLED, ChatSession
from .sidebar_groups import display_title, group_conversations

PAGE_SIZE = 20
SEARCH_LIMIT = 20
_DOWNLOADS = (  # label, export function, file suffix, MIME type
    ("JSON", conversation_to_json, "json", "application/json"),
    ("Markdown", conversation_to_markdown, "md", "text/markdown"),
)


def render_sidebar(chat: ChatSession) -> list[ConversationSummary]:
    """Draw the sidebar; returns the conversations it listed (for `chat.adopt_header`)."""
    with st.sidebar:
        st.button(
            "New conversation",
            key="new_conversation",
            icon=":material/add:",
            on_click=guarded(_new_conversation, chat),
            width="stretch",
        )
        _render_identity()
        show_callback_error()
        _render_search(chat)
        listed = _render_recent(chat)
        _render_export(chat)
    return listed


def _render_identity() -> None:
    if services.is_signed_in():
        st.caption(f"Signed in as {st.user.get('name') or st.user.get('email') or 'you'}.")
        st.button("Log out", key="logout", on_click=st.logout)
        return
    visitor.show_forgotten()
    st.caption(
        "Anonymous history, kept by this browser only. Log in to keep it safe everywhere."
        if services.login_configured()
        else "Anonymous history, kept by this browser only."
    )
    if services.login_configured():
        st.button("Log in", key="login", on_click=st.login)
    st.button(
        "Forget me on this browser",
        key="forget_me",
        icon=":material/logout:",
        help="Start afresh: this browser will no longer open your conversations",
        on_click=_forget_me,
    )


def _render_recent(chat: ChatSession) -> list[ConversationSummary]:
    archived = st.toggle("Show archived", key=state_keys.SHOW_ARCHIVED, on_change=_first_page_only)
    try:
        page = chat.recent_conversations(
            pages=_pages_listed(), page_size=PAGE_SIZE, archived=archived
        )
    except ConversationStoreError as exc:
        st.error(f"Could not list your conversations: {exc}")
        return []
    if not page.items:
        st.caption("No archived conversations." if archived else "No saved conversations yet.")
    tz = browser_timezone()
    for label, summaries in group_conversations(page.items, today=datetime.now(tz).date(), tz=tz):
        st.subheader(f"Archived · {label}" if archived else label)
        for summary in summaries:
            _render_conversation_row(chat, summary)
    if page.continuation is not None:
        st.button("Load more", key="load_more", on_click=_load_more)
    return page.items


def _render_conversation_row(chat: ChatSession, summary: ConversationSummary) -> None:
    conversation_id, title = summary.id, display_title(summary)
    if st.session_state.get(state_keys.CONFIRM_DELETE) == conversation_id:
        st.warning(f"Delete “{title}”? This cannot be undone.")
        yes, no = st.columns(2)
        yes.button(
            "Delete",
            key=f"confirm_delete_{conversation_id}",
            type="primary",
            on_click=guarded(_delete, chat, conversation_id),
        )
        no.button("Cancel", key=f"cancel_delete_{conversation_id}", on_click=_close_confirmation)
        return
    is_open = chat.stored and conversation_id == chat.conversation_id
    open_column, menu_column = st.columns([5, 1], vertical_alignment="center")
    open_column.button(
        title,
        key=f"open_{conversation_id}",
        width="stretch",
        type="primary" if is_open else "tertiary",
        help=summary.summary,
        on_click=guarded(_open, chat, conversation_id),
    )
    with menu_column.popover("", icon=":material/more_vert:", key=f"menu_{conversation_id}"):
        st.text_input(
            "Title",
            value=summary.title or "",
            placeholder=UNTITLED,
            key=state_keys.title_input(conversation_id),
        )
        st.button(
            "Rename",
            key=f"rename_{conversation_id}",
            on_click=guarded(_rename, chat, conversation_id),
        )
        action = "Unarchive" if summary.archived else "Archive"
        st.button(
            action,
            key=f"{action.lower()}_{conversation_id}",
            on_click=guarded(chat.archive, conversation_id, not summary.archived),
        )
        st.button(
            "Delete", key=f"delete_{conversation_id}", on_click=_ask_delete, args=(conversation_id,)
        )


def _render_search(chat: ChatSession) -> None:
    query = st.text_input("Search your conversations", key="search_query").strip()
    if not query:
        return
    try:
        hits = chat.search(query, limit=SEARCH_LIMIT)
    except ConversationStoreError as exc:  # InvalidInputError says what is wrong with it
        st.caption(f"Search failed: {exc}")
        return
    _render_hits(chat, hits)


def _render_hits(chat: ChatSession, hits: Sequence[SearchHit]) -> None:
    if not hits:
        st.caption("No messages match.")
    for number, hit in enumerate(hits):
        label = f"{hit.conversation_title or UNTITLED} — {hit.snippet}"
        st.button(
            label,
            key=f"search_hit_{number}_{hit.conversation_id}",
            type="tertiary",
            on_click=guarded(_open, chat, hit.conversation_id),
        )


def _render_export(chat: ChatSession) -> None:
    if not chat.stored:
        return
    st.divider()
    st.caption("Download this conversation")
    conversation = chat.conversation
    for column, (label, export, suffix, mime) in zip(st.columns(2), _DOWNLOADS, strict=True):
        column.download_button(
            label,
            export(conversation),
            file_name=f"{conversation.id}.{suffix}",
            mime=mime,
            key=f"download_{label.lower()}",
            on_click="ignore",
        )


# -- callbacks ------------------------------------------------------------------------------


def _new_conversation(chat: ChatSession) -> None:
    chat.new_conversation()
    forget_save_status()


def _forget_me() -> None:
    visitor.forget_me()
    forget_save_status()


def _open(chat: ChatSession, conversation_id: str) -> None:
    chat.open(conversation_id)
    forget_save_status()


def _rename(chat: ChatSession, conversation_id: str) -> None:
    title = str(st.session_state.get(state_keys.title_input(conversation_id), "")).strip()
    if title:
        chat.rename(conversation_id, title)


def _delete(chat: ChatSession, conversation_id: str) -> None:
    _close_confirmation()
    chat.delete(conversation_id)


def _ask_delete(conversation_id: str) -> None:
    st.session_state[state_keys.CONFIRM_DELETE] = conversation_id


def _close_confirmation() -> None:
    st.session_state.pop(state_keys.CONFIRM_DELETE, None)


def _load_more() -> None:
    st.session_state[state_keys.SIDEBAR_PAGES] = _pages_listed() + 1


def _pages_listed() -> int:
    return int(st.session_state.get(state_keys.SIDEBAR_PAGES, 1))


def _first_page_only() -> None:
    st.session_state.pop(state_keys.SIDEBAR_PAGES, None)


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
