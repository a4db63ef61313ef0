"""Rendering of the chat page: the open conversation, voice and text input, one turn."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from conversation_store import AppendResult, ConversationStoreError

from . import services
from .chat_session import ChatSession
from .status import SAVING, pending_count_of, save_status
from .transcribers import TranscriptionError

STATUS_KEY = "save_status"
_VOICE_KEY = "voice_input_generation"
_SHOWN_ROLES = ("user", "assistant")


def render_messages(chat: ChatSession) -> None:
    for message in chat.conversation.messages:
        if message.role in _SHOWN_ROLES and message.content:
            with st.chat_message(message.role):
                st.markdown(message.content)


def status_slot() -> DeltaGenerator:
    """The status line under the title, showing the last write's outcome."""
    slot = st.empty()
    if STATUS_KEY in st.session_state:
        slot.caption(str(st.session_state[STATUS_KEY]))
    return slot


def voice_input() -> str | None:
    """The transcript of a new recording, once; None when there is none or it failed."""
    generation = int(st.session_state.get(_VOICE_KEY, 0))
    recording = st.audio_input("Speak a message", key=f"voice_input_{generation}")
    if recording is None:
        return None
    # A new key empties the widget, so the same recording is not sent again on a rerun.
    st.session_state[_VOICE_KEY] = generation + 1
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


def run_turn(chat: ChatSession, text: str, slot: DeltaGenerator) -> None:
    """Show and store the user's message, then stream, show and store the reply."""
    with st.chat_message("user"):
        st.markdown(text)
    if not _record(chat, "user", text, slot):
        return
    try:
        responder = services.responder()
        with st.chat_message("assistant"):
            streamed = st.write_stream(responder.stream_reply(chat.history(
                max_tokens=services.history_token_budget())))
    except Exception as exc:  # a model or network failure must not lose the stored question
        st.error(f"The assistant could not answer: {exc}")
        return
    reply = streamed if isinstance(streamed, str) else "".join(str(part) for part in streamed)
    if reply:
        metadata = {"model": responder.model} if responder.model else None
        _record(chat, "assistant", reply, slot, metadata=metadata)


def _record(
    chat: ChatSession,
    role: str,
    text: str,
    slot: DeltaGenerator,
    *,
    metadata: dict[str, str] | None = None,
) -> bool:
    slot.caption(SAVING)
    try:
        result: AppendResult = chat.record(role, text, metadata=dict(metadata or {}))
    except ConversationStoreError as exc:
        st.session_state.pop(STATUS_KEY, None)
        slot.empty()
        st.error(f"Your message was not saved: {exc}")
        return False
    status = save_status(pending=result.pending,
                         pending_count=pending_count_of(chat.manager.store),
                         just_queued=len(result.message_ids))
    st.session_state[STATUS_KEY] = status
    slot.caption(status)
    return True
