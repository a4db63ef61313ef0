"""Voice on the chat page: the chat box takes a recording as well as typing, and replies can
be read aloud.

A recording is transcribed when it is submitted (the chat box's callback, before the run), and
the transcript is written back into the chat box, after any text typed with it, to be
checked, edited and sent with Enter like typed text. Nothing is sent unseen, so a poor
transcription never becomes a message, or a conversation's title, by itself. With "Speak
replies" on, each new assistant reply is synthesized and played once, automatically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import streamlit as st

from . import services, state_keys
from .chat_session import ChatSession
from .speech import SpeechError
from .transcribers import TranscriptionError

NoticeKind = Literal["info", "warning", "error"]
CHECK_TRANSCRIPT = "Check the text in the message box, edit it if needed, then press Enter."


def prompt_input() -> str | None:
    """The text the user sent this run, typed or a checked transcript; None otherwise.

    Draws, above the chat box, the "Speak replies" toggle and what became of the last
    recording."""
    _render_voice_controls()
    submitted = st.chat_input(
        "Type, or record with the microphone",
        key=state_keys.CHAT_INPUT,
        accept_audio=True,
        on_submit=_transcribe_recording,
    )
    if submitted is None:  # nothing sent; or a recording, now a transcript in the box
        return None
    return submitted.text or None


@contextmanager
def reply_read_aloud(chat: ChatSession) -> Iterator[None]:
    """Around a turn: when it is over, play the reply it stored, if "Speak replies" is on."""
    before = len(chat.conversation.messages)
    yield
    if not st.session_state.get(state_keys.SPEAK_REPLIES):
        return
    replies = [
        message.content
        for message in chat.conversation.messages[before:]
        if message.role == "assistant" and isinstance(message.content, str) and message.content
    ]
    if replies:
        _play(replies[-1])


def _render_voice_controls() -> None:
    speaking = st.toggle(
        "Speak replies",
        key=state_keys.SPEAK_REPLIES,
        help="Read each new reply aloud as soon as it arrives",
    )
    if speaking:
        try:
            services.synthesizer()
        except services.ConfigurationError as exc:
            st.error(str(exc), icon=":material/volume_off:")
    notice = st.session_state.pop(state_keys.VOICE_NOTICE, None)
    if notice is not None:
        kind, text = notice
        getattr(st, kind)(text, icon=":material/mic:")


def _transcribe_recording() -> None:
    """The chat box's callback: put a submitted recording's transcript into the box."""
    submitted = st.session_state.get(state_keys.CHAT_INPUT)
    recording = getattr(submitted, "audio", None)
    if recording is None:  # typed text only: the run sends it
        return
    typed = str(getattr(submitted, "text", "") or "")
    heard = _transcript(recording.getvalue())
    # Writing the box's value makes the run put this text into it instead of sending.
    st.session_state[state_keys.CHAT_INPUT] = " ".join(part for part in (typed, heard) if part)


def _transcript(wav: bytes) -> str:
    try:
        with st.spinner("Transcribing…"):
            transcriber = services.transcriber()
            heard = transcriber.transcribe(wav)
    except (services.ConfigurationError, TranscriptionError) as exc:
        _keep_notice("error", f"Could not transcribe the recording: {exc}")
        return ""
    if not heard:
        _keep_notice("warning", "No words were recognised in the recording. Please try again.")
    else:
        _keep_notice("info", f"Transcribed by {transcriber.name}. {CHECK_TRANSCRIPT}")
    return heard


def _keep_notice(kind: NoticeKind, text: str) -> None:
    st.session_state[state_keys.VOICE_NOTICE] = (kind, text)


def _play(reply: str) -> None:
    try:
        audio = services.synthesizer().synthesize(reply)
    except (services.ConfigurationError, SpeechError) as exc:
        st.error(f"The reply could not be read aloud: {exc}", icon=":material/volume_off:")
        return
    st.audio(audio, format="audio/wav", autoplay=True)
