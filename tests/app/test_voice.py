"""Voice input: a WAV spoken by espeak-ng, transcribed offline by PocketSphinx, then stored.

PocketSphinx is imperfect with synthetic speech, so the check is loose (a few of the spoken
digits), but an empty or unrelated transcript fails.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from app_helpers import CID, SECRET, in_browser
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.transcribers import PocketSphinxTranscriber

from conversation_store import ConversationKey, ConversationManager, MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py")
PHRASE = "one two three four five"
DIGITS = set(PHRASE.split())


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system-deps.sh installs it)")
    path = tmp_path_factory.mktemp("voice") / "digits.wav"
    subprocess.run(
        [espeak, "-v", "en-us", "-s", "150", "-w", str(path), PHRASE], check=True, timeout=30
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def transcriber() -> PocketSphinxTranscriber:
    return PocketSphinxTranscriber()


def recognised_digits(text: str) -> set[str]:
    return DIGITS & set(text.lower().split())


def test_pocketsphinx_recognises_spoken_digits(
    spoken_wav: bytes, transcriber: PocketSphinxTranscriber
) -> None:
    text = transcriber.transcribe(spoken_wav)
    assert len(recognised_digits(text)) >= 2, f"transcript {text!r}"


def test_silence_is_not_heard_as_the_digits(transcriber: PocketSphinxTranscriber) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 16000)
    assert not recognised_digits(transcriber.transcribe(buffer.getvalue()))


def test_a_recording_becomes_a_stored_message(
    spoken_wav: bytes, transcriber: PocketSphinxTranscriber
) -> None:
    store = MemoryStore()
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[state_keys.MANAGER] = ConversationManager(store)
    at.session_state[state_keys.TRANSCRIBER] = transcriber
    in_browser(at, SECRET)
    at = at.run()
    at = at.audio_input(key="voice_input_0").set_value(("voice.wav", spoken_wav, "audio/wav")).run()
    assert not at.exception
    said = at.main.chat_message[0].markdown[0].value
    assert len(recognised_digits(said)) >= 2, f"transcript {said!r}"
    [summary] = store.list_conversations(customer_id=CID, limit=5).items
    stored = store.get_conversation(ConversationKey(CID, summary.id))
    assert stored.messages[0].content == said
    # The widget was replaced by an empty one, so the next run does not send it again.
    at = at.run()
    assert [a.key for a in at.audio_input] == ["voice_input_1"]
    assert store.list_conversations(customer_id=CID, limit=5).items[0].message_count == 2
