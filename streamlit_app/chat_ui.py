"""Rendering of the chat page: header, share and download menus, the archived banner, the
open conversation with per-message actions (fork, edit, delete after a confirmation), and how
a turn is drawn (the input, voice included, is in `voice_ui`). User text is shown as typed
(`st.text`, or escaped Markdown in titles), assistant text as Markdown."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from conversation_store import (
    ConversationStoreError,
    Message,
    conversation_to_json,
    conversation_to_markdown,
)

from . import state_keys
from .callbacks import announce, close_menu, forget_save_status, guarded
from .chat_session import ChatSession
from .plain import markdown_literal
from .share_links import share_url
from .status import SAVING, parked_status

_SHOWN_ROLES = ("user", "assistant")
SHARE_EXPIRIES: dict[str, int | None] = {  # the share menu's choices: seconds, None = until revoked
    "until revoked": None,
    "for 1 day": 24 * 3600,
    "for 7 days": 7 * 24 * 3600,
}
_DOWNLOADS = (  # label, export function, file suffix, MIME type
    ("JSON", conversation_to_json, "json", "application/json"),
    ("Markdown", conversation_to_markdown, "md", "text/markdown"),
)
ARCHIVED_BANNER = "This conversation is archived: it is read-only until you restore it."


def render_header(slot: DeltaGenerator, chat: ChatSession) -> None:
    """The open conversation's title and, once the enricher wrote one, its summary.

    Drawn into `slot` (an `st.empty`), so the page can redraw it after a turn.
    """
    with slot.container():
        st.title(markdown_literal(chat.heading))
        if chat.conversation.summary:
            st.caption(markdown_literal(chat.conversation.summary))


def render_toolbar() -> tuple[DeltaGenerator, DeltaGenerator]:
    """The save status line and, beside it, the place of the share and download menus.

    The page fills the menus after the turn, so a conversation stored by this turn gets
    them at once.
    """
    status_column, menus_column = st.columns([3, 2], vertical_alignment="center")
    with status_column:
        slot = status_slot()
    with menus_column:
        menus = st.container(horizontal=True, horizontal_alignment="right", key="menus")
    return slot, menus


def render_archived_banner(chat: ChatSession) -> None:
    """An archived conversation says so, with the one way out of read-only: Restore."""
    if not chat.is_read_only:
        return
    with st.container(horizontal=True, vertical_alignment="center", key="archived_banner"):
        st.info(ARCHIVED_BANNER, icon=":material/inventory_2:", width="stretch")
        st.button(
            "Restore",
            key="restore_open",
            icon=":material/unarchive:",
            on_click=guarded(_restore, chat),
        )


def render_parked_warning(chat: ChatSession) -> None:
    """Say so when writes the user was told were saved were refused for good later."""
    notice = parked_status(chat.parked_count())
    if notice is not None:
        st.warning(notice, icon=":material/warning:")


def render_share_menu(chat: ChatSession) -> None:
    """Create (with an optional expiry), replace or revoke the open conversation's link."""
    if not chat.stored:
        return
    with st.popover("Share", icon=":material/share:", key="share_menu", on_change="rerun"):
        if chat.share_token is not None:
            st.caption("Anyone with this link can read this conversation, not change it.")
            st.code(share_url(st.context.url, chat.share_token), language=None)
        elif chat.is_shared:
            st.caption("Shared. A new link replaces the current one, which then stops working.")
        else:
            st.caption("Create a read-only link to this conversation.")
        choice = st.selectbox("Link works", list(SHARE_EXPIRIES), key=state_keys.SHARE_EXPIRY)
        st.button(
            "New link" if chat.is_shared else "Create link",
            key="share_create",
            on_click=guarded(chat.share, expires_in=SHARE_EXPIRIES[choice]),
        )
        if chat.is_shared:
            st.button("Revoke", key="share_revoke", on_click=guarded(chat.unshare))


def render_downloads(chat: ChatSession) -> None:
    """The open conversation as a JSON or Markdown file (a stored conversation only)."""
    if not chat.stored:
        return
    conversation = chat.conversation
    with st.popover("Download", icon=":material/download:", key="download_menu"):
        for label, export, suffix, mime in _DOWNLOADS:
            st.download_button(
                label,
                export(conversation),
                file_name=f"{conversation.id}.{suffix}",
                mime=mime,
                key=f"download_{label.lower()}",
                on_click="ignore",
                width="stretch",
            )


def render_messages(chat: ChatSession) -> None:
    """The open conversation; each stored message has a menu (fork, edit, delete), the
    message being edited shows an editor instead of its text, and the one to be deleted asks
    first. An archived conversation's messages can only be forked."""
    editing = st.session_state.get(state_keys.EDITING)
    deleting = st.session_state.get(state_keys.CONFIRM_MESSAGE_DELETE)
    for message in _shown(chat.conversation.messages):
        if message.id is None:  # a seed document's message: nothing can name it
            _message_text(st.chat_message(message.role), message.role, message.text)
            continue
        text, menu = _bubble(message.role)
        with text:
            if message.id == editing and not chat.is_read_only:
                _message_editor(chat, message)
            else:
                _message_text(text, message.role, message.text)
            if message.id == deleting and not chat.is_read_only:
                _delete_confirmation(chat, str(message.id))
        with menu:
            _message_menu(chat, message)


def render_transcript(messages: Sequence[Message]) -> None:
    """The user and assistant messages, read-only."""
    for message in _shown(messages):
        _message_text(st.chat_message(message.role), message.role, message.text)


def _message_text(place: DeltaGenerator, role: str, text: str) -> None:
    """A user's text exactly as typed; the assistant's as the Markdown it writes."""
    if role == "user":
        place.text(text)
    else:
        place.markdown(text)


def _shown(messages: Sequence[Message]) -> list[Message]:
    return [m for m in messages if m.role in _SHOWN_ROLES and m.is_chat and m.text]


def _bubble(role: str) -> tuple[DeltaGenerator, DeltaGenerator]:
    """A chat message: the place of its text and, at its right, of its menu (a row that
    never wraps, so the menu stays beside the text on a narrow screen too)."""
    with st.chat_message(role):
        row = st.container(horizontal=True, wrap=False, gap="small")
    with row:
        text = st.container(width="stretch")
        menu = st.container(width="content")
    return text, menu


def _message_menu(chat: ChatSession, message: Message) -> None:
    message_id = str(message.id)
    menu = state_keys.message_menu(message_id)
    with st.popover("", icon=":material/more_horiz:", key=menu, type="tertiary", on_change="rerun"):
        st.button(
            "Fork from here",
            key=f"fork_{message_id}",
            icon=":material/call_split:",
            help="A new conversation with the messages up to this one",
            on_click=guarded(_fork, chat, message_id),
        )
        if chat.is_read_only:
            return
        st.button(
            "Edit",
            key=f"edit_{message_id}",
            icon=":material/edit:",
            help="Change the stored text; later replies are kept as they are",
            on_click=_start_edit,
            args=(message_id,),
        )
        st.button(
            "Delete",
            key=f"delete_message_{message_id}",
            icon=":material/delete:",
            on_click=_ask_delete_message,
            args=(message_id,),
        )


def _delete_confirmation(chat: ChatSession, message_id: str) -> None:
    st.warning("Delete this message? This cannot be undone.", icon=":material/delete:")
    with st.container(horizontal=True):
        st.button(
            "Delete",
            key=f"confirm_delete_message_{message_id}",
            type="primary",
            on_click=guarded(_delete_message, chat, message_id),
        )
        st.button(
            "Cancel", key=f"cancel_delete_message_{message_id}", on_click=_stop_delete_message
        )


def _message_editor(chat: ChatSession, message: Message) -> None:
    message_id = str(message.id)
    st.text_area("Message", value=message.text, key=state_keys.edit_text(message_id))
    with st.container(horizontal=True):
        st.button(
            "Save",
            key=f"save_edit_{message_id}",
            type="primary",
            on_click=guarded(_save_edit, chat, message_id),
        )
        st.button("Cancel", key=f"cancel_edit_{message_id}", on_click=_stop_edit)


def _fork(chat: ChatSession, message_id: str) -> None:
    close_menu(state_keys.message_menu(message_id))
    chat.fork(message_id)
    forget_save_status()
    announce("Forked into a new conversation")


def _restore(chat: ChatSession) -> None:
    chat.archive(chat.conversation_id, archived=False)
    announce("Restored: you can continue this conversation")


def _start_edit(message_id: str) -> None:
    close_menu(state_keys.message_menu(message_id))
    st.session_state[state_keys.EDITING] = message_id


def _ask_delete_message(message_id: str) -> None:
    close_menu(state_keys.message_menu(message_id))
    st.session_state[state_keys.CONFIRM_MESSAGE_DELETE] = message_id


def _delete_message(chat: ChatSession, message_id: str) -> None:
    _stop_delete_message()
    chat.delete_message(message_id)
    announce("Message deleted")


def _stop_delete_message() -> None:
    st.session_state.pop(state_keys.CONFIRM_MESSAGE_DELETE, None)


def _save_edit(chat: ChatSession, message_id: str) -> None:
    chat.edit_message(message_id, str(st.session_state.get(state_keys.edit_text(message_id), "")))
    _stop_edit()


def _stop_edit() -> None:
    st.session_state.pop(state_keys.EDITING, None)


def status_slot() -> DeltaGenerator:
    """The status line under the title, showing the last write's outcome."""
    slot = st.empty()
    if state_keys.SAVE_STATUS in st.session_state:
        slot.caption(str(st.session_state[state_keys.SAVE_STATUS]))
    return slot


class PageTurn:
    """A turn drawn on the chat page: each message in a bubble, with its menu once stored,
    and the outcome of each write in the status line `slot`."""

    def __init__(self, chat: ChatSession, slot: DeltaGenerator) -> None:
        self._chat = chat
        self._slot = slot
        self._menu: DeltaGenerator | None = None  # the menu place of the newest bubble

    def question(self, text: str) -> None:
        bubble, self._menu = _bubble("user")
        bubble.text(text)

    def saving(self) -> None:
        self._slot.caption(SAVING)

    def saved(self, message: Message, status: str) -> None:
        st.session_state[state_keys.SAVE_STATUS] = status
        self._slot.caption(status)
        if self._menu is not None:  # shown at once, without waiting for a rerun
            with self._menu:
                _message_menu(self._chat, message)

    def not_saved(self, error: ConversationStoreError) -> None:
        st.session_state.pop(state_keys.SAVE_STATUS, None)
        self._slot.empty()
        st.error(f"Your message was not saved: {error}")

    def answer(self, pieces: Iterator[str]) -> str:
        bubble, self._menu = _bubble("assistant")
        with bubble:
            streamed = st.write_stream(pieces)
        return streamed if isinstance(streamed, str) else "".join(str(part) for part in streamed)

    def no_answer(self, error: Exception) -> None:
        st.error(f"The assistant could not answer: {error}")
