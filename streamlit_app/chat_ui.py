"""Rendering of the chat page: header, share menu, the open conversation with per-message
actions (fork, edit, delete), voice and text input, and how a turn is drawn."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from conversation_store import ConversationStoreError, Message

from . import services, state_keys
from .callbacks import forget_save_status, guarded
from .chat_session import ChatSession
from .share_links import share_url
from .status import SAVING, parked_status
from .transcribers import TranscriptionError

_SHOWN_ROLES = ("user", "assistant")
SHARE_EXPIRIES: dict[str, int | None] = {  # the share menu's choices: seconds, None = until revoked
    "until revoked": None,
    "for 1 day": 24 * 3600,
    "for 7 days": 7 * 24 * 3600,
}


def render_header(slot: DeltaGenerator, chat: ChatSession) -> None:
    """The open conversation's title and, once the enricher wrote one, its summary.

    Drawn into `slot` (an `st.empty`), so the page can redraw it after a turn.
    """
    with slot.container():
        st.title(chat.title)
        if chat.conversation.summary:
            st.caption(chat.conversation.summary)


def render_toolbar() -> tuple[DeltaGenerator, DeltaGenerator]:
    """The save status line and, beside it, the place of the share menu.

    The page fills the share menu after the turn, so a conversation stored by this turn
    gets its menu at once.
    """
    status_column, share_column = st.columns([5, 1], vertical_alignment="center")
    with status_column:
        return status_slot(), share_column


def render_parked_warning(chat: ChatSession) -> None:
    """Say so when writes the user was told were saved were refused for good later."""
    notice = parked_status(chat.parked_count())
    if notice is not None:
        st.warning(notice, icon=":material/warning:")


def render_share_menu(chat: ChatSession) -> None:
    """Create (with an optional expiry), replace or revoke the open conversation's link."""
    if not chat.stored:
        return
    with st.popover("Share", icon=":material/share:", key="share_menu"):
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


def render_messages(chat: ChatSession) -> None:
    """The open conversation; each stored message has a menu (fork, edit, delete), and the
    message being edited shows an editor instead of its text."""
    editing = st.session_state.get(state_keys.EDITING)
    for message in _shown(chat.conversation.messages):
        if message.id is None:  # a seed document's message: nothing can name it
            st.chat_message(message.role).markdown(message.content or "")
            continue
        text, menu = _bubble(message.role)
        with text:
            if message.id == editing:
                _message_editor(chat, message)
            else:
                st.markdown(message.content or "")
        with menu:
            _message_menu(chat, message)


def render_transcript(messages: Sequence[Message]) -> None:
    """The user and assistant messages, read-only."""
    for message in _shown(messages):
        st.chat_message(message.role).markdown(message.content or "")


def _shown(messages: Sequence[Message]) -> list[Message]:
    return [m for m in messages if m.role in _SHOWN_ROLES and m.content]


def _bubble(role: str) -> tuple[DeltaGenerator, DeltaGenerator]:
    """A chat message: the place of its text and, at its right, of its menu."""
    text, menu = st.chat_message(role).columns([14, 1])
    return text, menu


def _message_menu(chat: ChatSession, message: Message) -> None:
    message_id = str(message.id)
    with st.popover("", icon=":material/more_horiz:", key=f"message_menu_{message_id}"):
        st.button(
            "Fork from here",
            key=f"fork_{message_id}",
            icon=":material/call_split:",
            help="A new conversation with the messages up to this one",
            on_click=guarded(_fork, chat, message_id),
        )
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
            on_click=guarded(chat.delete_message, message_id),
        )


def _message_editor(chat: ChatSession, message: Message) -> None:
    message_id = str(message.id)
    st.text_area("Message", value=message.content or "", key=state_keys.edit_text(message_id))
    with st.container(horizontal=True):
        st.button(
            "Save",
            key=f"save_edit_{message_id}",
            type="primary",
            on_click=guarded(_save_edit, chat, message_id),
        )
        st.button("Cancel", key=f"cancel_edit_{message_id}", on_click=_stop_edit)


def _fork(chat: ChatSession, message_id: str) -> None:
    chat.fork(message_id)
    forget_save_status()


def _start_edit(message_id: str) -> None:
    st.session_state[state_keys.EDITING] = message_id


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


def voice_input() -> str | None:
    """The transcript of a new recording, once; None when there is none or it failed."""
    generation = int(st.session_state.get(state_keys.VOICE_GENERATION, 0))
    recording = st.audio_input("Speak a message", key=f"voice_input_{generation}")
    if recording is None:
        return None
    # A new key empties the widget, so the same recording is not sent again on a rerun.
    st.session_state[state_keys.VOICE_GENERATION] = generation + 1
    try:
        with st.spinner("Transcribing…"):
            text = services.transcriber().transcribe(recording.getvalue())
    except (services.ConfigurationError, TranscriptionError) as exc:
        st.error(f"Could not transcribe the recording: {exc}")
        return None
    if not text:
        st.warning("No words were recognised in the recording. Please try again.")
        return None
    return text


class PageTurn:
    """A turn drawn on the chat page: each message in a bubble, with its menu once stored,
    and the outcome of each write in the status line `slot`."""

    def __init__(self, chat: ChatSession, slot: DeltaGenerator) -> None:
        self._chat = chat
        self._slot = slot
        self._menu: DeltaGenerator | None = None  # the menu place of the newest bubble

    def question(self, text: str) -> None:
        bubble, self._menu = _bubble("user")
        bubble.markdown(text)

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
