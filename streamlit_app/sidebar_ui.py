"""Rendering of the sidebar: "New conversation" and search pinned at the top, the pinned
conversations, the recent ones (grouped by day, paged), a collapsible "Archived" section, and
each row's ⋮ menu (rename, pin or unpin, archive or restore, delete after a confirmation).

Every action is an `on_click` callback (`callbacks.guarded`), so it has taken effect before
the next run draws the page; its store errors are shown, not raised, it closes the menu it was
picked from, and it says what it did in a toast. Titles and snippets are user text: they are
shown literally (`plain.markdown_literal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from conversation_store import ConversationStoreError, ConversationSummary, SearchHit

from . import services, state_keys, visitor
from .callbacks import (
    announce,
    close_menu,
    forget_save_status,
    guarded,
    show_callback_error,
)
from .chat_session import ChatSession
from .plain import highlighted, markdown_literal
from .sidebar_groups import display_title, group_conversations
from .sidebar_style import apply_sidebar_style, close_drawer_on_narrow_screens

PAGE_SIZE = 20
SEARCH_LIMIT = 20
UNTITLED_ROW = "Untitled"  # a stored conversation without a title yet, unlike a new one
EMPTY_TITLE = "A title cannot be empty."
PINNED = "Pinned"  # the group above the others
PINNED_LIMIT = 50  # pinned conversations listed (pinning is for a few)


def render_sidebar(chat: ChatSession) -> list[ConversationSummary]:
    """Draw the sidebar; returns the conversations it listed (for `chat.adopt_header`)."""
    with st.sidebar:
        apply_sidebar_style(chat.conversation_id if chat.stored else None)
        with st.container(key="sidebar_controls"):
            st.button(
                "New conversation",
                key="new_conversation",
                icon=":material/add:",
                on_click=guarded(_new_conversation, chat),
                width="stretch",
            )
            query = st.text_input(
                "Search your conversations",
                key="search_query",
                placeholder="Search your conversations",
                label_visibility="collapsed",
                icon=":material/search:",
            ).strip()
        show_callback_error()
        if query:
            _render_search(chat, query)
        listed = _render_recent(chat)
        _render_archived(chat)
        st.divider()
        _render_identity()
        if st.session_state.pop(state_keys.CLOSE_DRAWER, False):
            close_drawer_on_narrow_screens()
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
    """The pinned conversations, then the others by day; returns every one listed."""
    try:
        pinned = chat.recent_conversations(pages=1, page_size=PINNED_LIMIT, pinned=True)
        page = chat.recent_conversations(pages=_pages_listed(), page_size=PAGE_SIZE, pinned=False)
    except ConversationStoreError as exc:
        st.error(f"Could not list your conversations: {exc}")
        return []
    if pinned.items:
        st.caption(PINNED)
        for summary in pinned.items:
            _render_conversation_row(chat, summary)
    if not page.items and not pinned.items:
        st.caption("No saved conversations yet.")
    tz = browser_timezone()
    for label, summaries in group_conversations(page.items, today=datetime.now(tz).date(), tz=tz):
        st.caption(label)
        for summary in summaries:
            _render_conversation_row(chat, summary)
    if page.continuation is not None:
        st.button("Load more", key="load_more", on_click=_load_more)
    return [*pinned.items, *page.items]


def _render_archived(chat: ChatSession) -> None:
    """A section of its own, listed only while it is open."""
    section = st.expander(
        "Archived",
        key=state_keys.ARCHIVED_SECTION,
        icon=":material/inventory_2:",
        on_change="rerun",
    )
    if not section.open:
        return
    with section:
        try:
            page = chat.recent_conversations(pages=1, page_size=PAGE_SIZE, archived=True)
        except ConversationStoreError as exc:
            st.error(f"Could not list your archived conversations: {exc}")
            return
        if not page.items:
            st.caption("No archived conversations.")
        for summary in page.items:
            _render_conversation_row(chat, summary)
        if page.continuation is not None:
            st.caption(f"The {PAGE_SIZE} most recently archived; search finds the others.")


def _render_conversation_row(chat: ChatSession, summary: ConversationSummary) -> None:
    conversation_id = summary.id
    is_open = chat.stored and conversation_id == chat.conversation_id
    title = chat.heading if is_open else display_title(summary, untitled=UNTITLED_ROW)
    if st.session_state.get(state_keys.CONFIRM_DELETE) == conversation_id:
        _delete_confirmation(chat, conversation_id, title)
        return
    with st.container(
        key=f"row_{conversation_id}", horizontal=True, vertical_alignment="center", wrap=False
    ):
        st.button(
            markdown_literal(title),
            key=f"open_{conversation_id}",
            width="stretch",
            type="tertiary",
            on_click=guarded(_open, chat, conversation_id),
        )
        _row_menu(chat, summary, title)


def _row_menu(chat: ChatSession, summary: ConversationSummary, title: str) -> None:
    conversation_id = summary.id
    menu = state_keys.row_menu(conversation_id)
    with st.popover(
        "",
        icon=":material/more_vert:",
        key=menu,
        type="tertiary",
        on_change="rerun",
    ):
        if summary.summary:
            st.caption(markdown_literal(summary.summary))
        rename = guarded(_rename, chat, conversation_id, title)
        st.text_input(
            "Title",
            value=summary.title or "",
            placeholder="Type a title, then Enter",
            key=state_keys.title_input(conversation_id),
            on_change=rename,
        )
        error = st.session_state.get(state_keys.rename_error(conversation_id))
        if error:
            st.error(str(error))
        st.button(
            "Rename", key=f"rename_{conversation_id}", icon=":material/edit:", on_click=rename
        )
        if not summary.archived:
            st.button(
                "Unpin" if summary.pinned else "Pin",
                key=f"{'unpin' if summary.pinned else 'pin'}_{conversation_id}",
                icon=":material/keep_off:" if summary.pinned else ":material/keep:",
                on_click=guarded(_pin, chat, conversation_id, title, not summary.pinned),
            )
        if summary.archived:
            st.button(
                "Restore",
                key=f"unarchive_{conversation_id}",
                icon=":material/unarchive:",
                on_click=guarded(_archive, chat, conversation_id, title, False),
            )
        else:
            st.button(
                "Archive",
                key=f"archive_{conversation_id}",
                icon=":material/archive:",
                on_click=guarded(_archive, chat, conversation_id, title, True),
            )
        st.button(
            "Delete",
            key=f"delete_{conversation_id}",
            icon=":material/delete:",
            on_click=_ask_delete,
            args=(conversation_id,),
        )


def _delete_confirmation(chat: ChatSession, conversation_id: str, title: str) -> None:
    st.warning(f"Delete “{markdown_literal(title)}”? This cannot be undone.")
    yes, no = st.columns(2)
    yes.button(
        "Delete",
        key=f"confirm_delete_{conversation_id}",
        type="primary",
        on_click=guarded(_delete, chat, conversation_id, title),
    )
    no.button("Cancel", key=f"cancel_delete_{conversation_id}", on_click=_close_confirmation)


def _render_search(chat: ChatSession, query: str) -> None:
    try:
        hits = chat.search(query, limit=SEARCH_LIMIT)
    except ConversationStoreError as exc:  # InvalidInputError says what is wrong with it
        st.caption(f"Search failed: {exc}")
        return
    _render_hits(chat, hits, query)


def _render_hits(chat: ChatSession, hits: Sequence[SearchHit], query: str) -> None:
    if not hits:
        st.caption("No messages match.")
        return
    st.caption("Messages that match: pick one to open its conversation")
    for number, hit in enumerate(hits):
        title = markdown_literal(hit.conversation_title or UNTITLED_ROW)
        st.button(
            f"{title} — {highlighted(hit.snippet, query)}",
            key=f"search_hit_{number}_{hit.conversation_id}",
            icon=":material/chat_bubble:",
            width="stretch",
            on_click=guarded(_open, chat, hit.conversation_id),
        )


# -- callbacks ------------------------------------------------------------------------------


def _new_conversation(chat: ChatSession) -> None:
    chat.new_conversation()
    forget_save_status()
    st.session_state[state_keys.CLOSE_DRAWER] = True


def _forget_me() -> None:
    visitor.forget_me()
    forget_save_status()


def _open(chat: ChatSession, conversation_id: str) -> None:
    chat.open(conversation_id)
    forget_save_status()
    st.session_state[state_keys.CLOSE_DRAWER] = True


def _rename(chat: ChatSession, conversation_id: str, old_title: str) -> None:
    title = str(st.session_state.get(state_keys.title_input(conversation_id), "")).strip()
    if not title:
        st.session_state[state_keys.rename_error(conversation_id)] = EMPTY_TITLE
        return
    st.session_state.pop(state_keys.rename_error(conversation_id), None)
    close_menu(state_keys.row_menu(conversation_id))
    if title != old_title:
        chat.rename(conversation_id, title)
        announce(f"Renamed to “{title}”")


def _pin(chat: ChatSession, conversation_id: str, title: str, pinned: bool) -> None:
    close_menu(state_keys.row_menu(conversation_id))
    chat.pin(conversation_id, pinned)
    announce(f"Pinned “{title}”" if pinned else f"Unpinned “{title}”")


def _archive(chat: ChatSession, conversation_id: str, title: str, archived: bool) -> None:
    close_menu(state_keys.row_menu(conversation_id))
    was_open = chat.stored and conversation_id == chat.conversation_id
    chat.archive(conversation_id, archived)
    if was_open and archived:
        forget_save_status()
    announce(f"Archived “{title}”" if archived else f"Restored “{title}”")


def _delete(chat: ChatSession, conversation_id: str, title: str) -> None:
    _close_confirmation()
    was_open = chat.stored and conversation_id == chat.conversation_id
    chat.delete(conversation_id)
    if was_open:
        forget_save_status()
    announce(f"Deleted “{title}”")


def _ask_delete(conversation_id: str) -> None:
    close_menu(state_keys.row_menu(conversation_id))
    st.session_state[state_keys.CONFIRM_DELETE] = conversation_id


def _close_confirmation() -> None:
    st.session_state.pop(state_keys.CONFIRM_DELETE, None)


def _load_more() -> None:
    st.session_state[state_keys.SIDEBAR_PAGES] = _pages_listed() + 1


def _pages_listed() -> int:
    return int(st.session_state.get(state_keys.SIDEBAR_PAGES, 1))


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
