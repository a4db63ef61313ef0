"""Rendering of the sidebar: new, recent (grouped, paged), open, rename, delete, search, export.

Every action is an `on_click` callback, so it has taken effect before the next run draws the
page. Store errors inside callbacks are kept in session state and shown, not raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from conversation_store import ConversationNotFoundError, ConversationStoreError
from conversation_store.export import conversation_to_json, conversation_to_markdown
from conversation_store.stores.protocol import SearchableStore

from . import services
from .chat_session import ChatSession
from .chat_ui import STATUS_KEY
from .sidebar_groups import display_title, group_conversations

PAGE_SIZE = 20
SEARCH_LIMIT = 20
_PAGES_KEY = "sidebar_pages"
_CONFIRM_KEY = "confirm_delete"
_ERROR_KEY = "sidebar_error"


def render_sidebar(chat: ChatSession) -> None:
    with st.sidebar:
        st.button("New conversation", key="new_conversation", icon=":material/add:",
                  on_click=_guarded(_new_conversation, chat), width="stretch")
        _render_identity()
        if _ERROR_KEY in st.session_state:
            st.warning(str(st.session_state.pop(_ERROR_KEY)))
        if isinstance(chat.manager.store, SearchableStore):
            _render_search(chat, chat.manager.store)
        _render_recent(chat)
        _render_export(chat)


def _render_identity() -> None:
    if services.is_signed_in():
        st.caption(f"Signed in as {st.user.get('name') or st.user.get('email') or 'you'}.")
        st.button("Log out", key="logout", on_click=st.logout)
        return
    st.caption("Anonymous history: anyone with this page's link sees it. Keep the link private.")
    if services.login_configured():
        st.button("Log in", key="login", on_click=st.login)


def _render_recent(chat: ChatSession) -> None:
    try:
        page = chat.recent_conversations(pages=int(st.session_state.get(_PAGES_KEY, 1)),
                                         page_size=PAGE_SIZE)
    except ConversationStoreError as exc:
        st.error(f"Could not list your conversations: {exc}")
        return
    if not page.items:
        st.caption("No saved conversations yet.")
    tz = browser_timezone()
    for label, summaries in group_conversations(page.items, today=datetime.now(tz).date(),
                                                tz=tz):
        st.subheader(label)
        for summary in summaries:
            _render_conversation_row(chat, summary.id, display_title(summary))
    if page.continuation is not None:
        st.button("Load more", key="load_more", on_click=_load_more)


def _render_conversation_row(chat: ChatSession, conversation_id: str, title: str) -> None:
    is_open = chat.stored and conversation_id == chat.conversation_id
    if st.session_state.get(_CONFIRM_KEY) == conversation_id:
        st.warning(f"Delete “{title}”? This cannot be undone.")
        yes, no = st.columns(2)
        yes.button("Delete", key=f"confirm_delete_{conversation_id}", type="primary",
                   on_click=_guarded(_delete, chat, conversation_id))
        no.button("Cancel", key=f"cancel_delete_{conversation_id}", on_click=_cancel_delete)
        return
    open_column, menu_column = st.columns([5, 1], vertical_alignment="center")
    open_column.button(title, key=f"open_{conversation_id}", width="stretch",
                       type="primary" if is_open else "tertiary",
                       on_click=_guarded(_open, chat, conversation_id))
    with menu_column.popover("", icon=":material/more_vert:", key=f"menu_{conversation_id}"):
        st.text_input("Title", value=title, key=f"title_{conversation_id}")
        st.button("Rename", key=f"rename_{conversation_id}",
                  on_click=_guarded(_rename, chat, conversation_id))
        st.button("Delete", key=f"delete_{conversation_id}", on_click=_ask_delete,
                  args=(conversation_id,))


def _render_search(chat: ChatSession, store: SearchableStore) -> None:
    query = st.text_input("Search your conversations", key="search_query").strip()
    if not query:
        return
    try:
        hits = store.search_messages(customer_id=chat.customer_id, query=query,
                                     limit=SEARCH_LIMIT)
    except ConversationStoreError as exc:
        st.caption(f"Search failed: {exc}")
        return
    if not hits:
        st.caption("No messages match.")
    for number, hit in enumerate(hits):
        label = f"{hit.conversation_title or 'New conversation'} — {hit.snippet}"
        st.button(label, key=f"search_hit_{number}_{hit.conversation_id}", type="tertiary",
                  on_click=_guarded(_open, chat, hit.conversation_id))


def _render_export(chat: ChatSession) -> None:
    if not chat.stored:
        return
    st.divider()
    st.caption("Download this conversation")
    conversation = chat.conversation
    json_column, markdown_column = st.columns(2)
    json_column.download_button("JSON", conversation_to_json(conversation),
                                file_name=f"{conversation.id}.json", mime="application/json",
                                key="download_json", on_click="ignore")
    markdown_column.download_button("Markdown", conversation_to_markdown(conversation),
                                    file_name=f"{conversation.id}.md", mime="text/markdown",
                                    key="download_markdown", on_click="ignore")


# -- callbacks ------------------------------------------------------------------------------

def _guarded(action: Callable[[ChatSession, str], None], chat: ChatSession,
             conversation_id: str = "") -> Callable[[], None]:
    def run() -> None:
        try:
            action(chat, conversation_id)
        except ConversationNotFoundError:
            st.session_state[_ERROR_KEY] = "That conversation no longer exists."
        except ConversationStoreError as exc:
            st.session_state[_ERROR_KEY] = f"That did not work: {exc}"
    return run


def _new_conversation(chat: ChatSession, _: str) -> None:
    chat.new_conversation()
    st.session_state.pop(STATUS_KEY, None)


def _open(chat: ChatSession, conversation_id: str) -> None:
    chat.open(conversation_id)
    st.session_state.pop(STATUS_KEY, None)


def _rename(chat: ChatSession, conversation_id: str) -> None:
    title = str(st.session_state.get(f"title_{conversation_id}", "")).strip()
    if title:
        chat.rename(conversation_id, title)


def _delete(chat: ChatSession, conversation_id: str) -> None:
    st.session_state.pop(_CONFIRM_KEY, None)
    chat.delete(conversation_id)


def _ask_delete(conversation_id: str) -> None:
    st.session_state[_CONFIRM_KEY] = conversation_id


def _cancel_delete() -> None:
    st.session_state.pop(_CONFIRM_KEY, None)


def _load_more() -> None:
    st.session_state[_PAGES_KEY] = int(st.session_state.get(_PAGES_KEY, 1)) + 1


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
