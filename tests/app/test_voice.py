"""Voice on the chat page, in AppTest: a recording submitted from the chat box becomes an
editable transcript in the box, sent only with Enter; "Speak replies" plays each new reply.

The recordings are WAVs spoken by espeak-ng and transcribed by the real offline engines
(Whisper tiny.en, and PocketSphinx, the fallback); the replies are synthesized by real
espeak-ng. AppTest's chat box can type and attach files but not record, so `record` submits
a recording the way the browser's microphone button does: the WAV as the box's audio file.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_helpers import CID, SECRET, chat_texts, in_browser
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import ChatInput
from streamlit_app import services, state_keys
from streamlit_app.speech import EspeakSynthesizer
from streamlit_app.transcribers import (
    PocketSphinxTranscriber,
    Transcriber,
    TranscriptionError,
    WhisperTranscriber,
)

from conversation_store import ConversationManager, MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py")
PHRASE = "please remind me to buy green tea tomorrow morning"


class _RecordedChatInput(ChatInput):
    """The chat box as the browser submits it after a recording: text plus an audio file."""

    recording: bytes

    def _get_files_to_register(self) -> list[tuple[str, str, bytes, str]]:
        return [(self._file_id, "recording.wav", self.recording, "audio/wav")]

    @property
    def _widget_state(self) -> WidgetState:
        state = WidgetState()
        state.id = self.id
        state.chat_input_value.data = self._value or ""
        audio = state.chat_input_value.audio_file_info
        audio.file_id, audio.name, audio.size = self._file_id, "recording.wav", len(self.recording)
        audio.file_urls.file_id = self._file_id
        return state

    @property
    def _file_id(self) -> str:
        return f"recording-{uuid.uuid5(uuid.NAMESPACE_OID, self.id)}"


def record(at: AppTest, wav: bytes, *, typed: str | None = None) -> AppTest:
    """Submit `wav` (and `typed`, text already in the box) from the chat box, then run."""
    box = at.chat_input(key=state_keys.CHAT_INPUT)
    box.__class__ = _RecordedChatInput
    assert isinstance(box, _RecordedChatInput)
    box.recording = wav
    box.set_value(typed)
    return at.run()


def box_text(at: AppTest) -> str:
    """The text the run put into the chat box for the user to edit ("" when none)."""
    box = at.chat_input(key=state_keys.CHAT_INPUT)
    return box.proto.value if box.proto.set_value else ""


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system-deps.sh installs it)")
    path = tmp_path_factory.mktemp("voice") / "phrase.wav"
    subprocess.run(
        [espeak, "-v", "en-us", "-s", "150", "-w", str(path), "--", PHRASE], check=True, timeout=30
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def open_chat(store: MemoryStore) -> Iterator[Callable[..., AppTest]]:
    def open_(**session_state: object) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state[state_keys.MANAGER] = ConversationManager(store)
        for key, value in session_state.items():
            at.session_state[key] = value
        in_browser(at, SECRET)
        return at.run()

    yield open_


def stored_count(store: MemoryStore) -> int:
    return len(store.list_conversations(customer_id=CID, limit=5).items)


def test_a_recording_becomes_an_editable_transcript_sent_only_with_enter(
    open_chat, store: MemoryStore, spoken_wav: bytes, whisper: WhisperTranscriber
) -> None:
    at = record(open_chat(**{state_keys.TRANSCRIBER: whisper}), spoken_wav)
    assert not at.exception
    heard = box_text(at)
    assert "green tea" in heard.lower(), heard
    assert chat_texts(at) == [] and stored_count(store) == 0  # nothing sent yet
    assert "Whisper" in at.info[0].value and "press Enter" in at.info[0].value
    at = at.run()  # another rerun (a click elsewhere) still sends nothing
    assert chat_texts(at) == [] and stored_count(store) == 0
    edited = heard.replace("green tea", "jasmine tea")
    at = at.chat_input(key=state_keys.CHAT_INPUT).set_value(edited).run()
    assert chat_texts(at)[0] == ("user", edited)
    [summary] = store.list_conversations(customer_id=CID, limit=5).items
    assert summary.message_count == 2


def test_text_typed_before_recording_is_kept_before_the_transcript(
    open_chat, spoken_wav: bytes, whisper: WhisperTranscriber
) -> None:
    at = record(open_chat(**{state_keys.TRANSCRIBER: whisper}), spoken_wav, typed="Note:")
    assert box_text(at).startswith("Note: ") and "tea" in box_text(at).lower()
    assert chat_texts(at) == []


def test_the_pocketsphinx_fallback_fills_the_box_too(open_chat, spoken_wav: bytes) -> None:
    at = record(open_chat(**{state_keys.TRANSCRIBER: PocketSphinxTranscriber()}), spoken_wav)
    assert box_text(at) and "PocketSphinx" in at.info[0].value
    assert chat_texts(at) == []


def test_silence_gives_a_warning_and_an_empty_box(
    open_chat, whisper: WhisperTranscriber, tmp_path: Path
) -> None:
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 16000)
    at = record(open_chat(**{state_keys.TRANSCRIBER: whisper}), silence.read_bytes())
    assert "No words were recognised" in at.warning[0].value
    assert box_text(at) == "" and chat_texts(at) == []


class _BrokenTranscriber:
    name = "a transcriber that fails"

    def transcribe(self, wav: bytes) -> str:
        raise TranscriptionError("the service is down")


def test_a_failed_transcription_is_shown_and_keeps_the_typed_text(
    open_chat, spoken_wav: bytes
) -> None:
    broken: Transcriber = _BrokenTranscriber()
    at = record(open_chat(**{state_keys.TRANSCRIBER: broken}), spoken_wav, typed="half a thought")
    assert "Could not transcribe the recording: the service is down" in at.error[0].value
    assert box_text(at) == "half a thought" and chat_texts(at) == []


def test_a_missing_speech_recogniser_is_an_error_not_a_traceback(
    open_chat, spoken_wav: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> Transcriber:
        raise ImportError("No module named 'pocketsphinx'")

    monkeypatch.setattr(services, "_process_transcriber", unavailable)
    at = record(open_chat(), spoken_wav)
    assert not at.exception
    assert "Speech recognition is not available" in at.error[0].value
    assert chat_texts(at) == []


def audio_elements(at: AppTest) -> list[object]:
    return [element.proto for element in at.get("audio")]


def test_spoken_replies_play_each_new_reply_once(open_chat) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system-deps.sh installs it)")
    at = open_chat(**{state_keys.SYNTHESIZER: EspeakSynthesizer()})
    at = at.chat_input(key=state_keys.CHAT_INPUT).set_value("Hello").run()
    assert audio_elements(at) == []  # off by default
    at = at.toggle(key=state_keys.SPEAK_REPLIES).set_value(True).run()
    assert audio_elements(at) == []  # turning it on reads nothing out
    at = at.chat_input(key=state_keys.CHAT_INPUT).set_value("Tell me more").run()
    [audio] = audio_elements(at)
    assert audio.autoplay and audio.url
    at = at.run()
    assert audio_elements(at) == []  # played once, not again on the next run


def test_spoken_replies_without_espeak_ng_say_so(
    open_chat, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    monkeypatch.delenv("AZURE_SPEECH_KEY", raising=False)
    monkeypatch.delenv("AZURE_SPEECH_RESOURCE_ID", raising=False)
    services._process_synthesizer.clear()
    at = open_chat()
    at = at.toggle(key=state_keys.SPEAK_REPLIES).set_value(True).run()
    assert "espeak-ng is not installed" in at.error[0].value
    at = at.chat_input(key=state_keys.CHAT_INPUT).set_value("Hello").run()
    assert not at.exception
    assert chat_texts(at)[0] == ("user", "Hello")  # the turn still happens
    assert any("could not be read aloud" in e.value for e in at.error)
    assert audio_elements(at) == []
