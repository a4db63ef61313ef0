"""Spoken replies offline: `speakable` on any text, and real espeak-ng writing real WAV files,
hostile text included (control characters, surrogates, a megabyte, text that looks like
options)."""

from __future__ import annotations

import io
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit_app.speech import (
    MAX_SPOKEN_CHARS,
    EspeakSynthesizer,
    SpeechError,
    Synthesizer,
    speakable,
    synthesizer_from_env,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (scripts/install-system-deps.sh installs it)",
)


def wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        frames = wav.readframes(wav.getnframes())
        assert len(frames) == 2 * wav.getnframes()  # the header tells the real length
        return np.frombuffer(frames, dtype="<i2"), wav.getframerate()


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_speakable_text_is_printable_bounded_and_stable(text: str, limit: int) -> None:
    words = speakable(text, limit=limit)
    assert len(words) <= limit
    assert all(c.isprintable() for c in words)  # no controls, no lone surrogates
    words.encode()  # valid UTF-8
    assert words == words.strip() and "  " not in words
    assert speakable(words, limit=limit) == words


def test_speakable_cuts_on_a_word_boundary() -> None:
    assert speakable("one two three", limit=9) == "one two"
    assert speakable("one two three", limit=7) == "one two"
    assert speakable("abcdefghij", limit=4) == "abcd"  # no space: a hard cut
    assert speakable("line\nbreak\x00and\u200bzero \ud800 width") == "line break and zero width"


@needs_espeak
def test_espeak_ng_writes_a_wav_of_the_text() -> None:
    synthesizer: Synthesizer = EspeakSynthesizer()
    samples, rate = wav_samples(synthesizer.synthesize("Please remind me to buy green tea."))
    assert rate == 22050
    assert 0.5 < len(samples) / rate < 10  # seconds of speech
    assert np.abs(samples).max() > 1000  # not silence


@needs_espeak
@pytest.mark.parametrize(
    "text",
    [
        "-w /tmp/owned.wav",
        "--help",
        "-v xx --stdout",
        "-- -q",
        "\x00\x01\x1b[31mred\x7f text",
        "lone \ud800 surrogate \udfff",
        "<speak>not markup</speak> & [[h@l'oU]]",
    ],
)
def test_hostile_text_is_spoken_as_text(text: str) -> None:
    before = set(Path("/tmp").glob("owned*"))
    samples, _ = wav_samples(EspeakSynthesizer().synthesize(text))
    assert len(samples) > 0 and set(Path("/tmp").glob("owned*")) == before


@needs_espeak
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_a_wav_or_nothing_to_say(text: str) -> None:
    try:
        samples, rate = wav_samples(EspeakSynthesizer().synthesize(text))
    except SpeechError as exc:
        assert "nothing to say" in str(exc) and not speakable(text)
    else:  # a valid WAV whose header tells its length (checked by wav_samples)
        assert rate == 22050 and samples.dtype == np.dtype("<i2")


@needs_espeak
def test_a_megabyte_of_text_is_cut_to_the_spoken_limit() -> None:
    samples, rate = wav_samples(EspeakSynthesizer().synthesize("word " * 200_000))
    cut_seconds = len(samples) / rate
    # MAX_SPOKEN_CHARS characters of "word " at 170 words per minute, with headroom.
    assert cut_seconds < (MAX_SPOKEN_CHARS / 5) / 170 * 60 * 1.5


@needs_espeak
@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\n\t", "\ud800"])
def test_nothing_to_say_is_a_typed_error(text: str) -> None:
    with pytest.raises(SpeechError, match="nothing to say"):
        EspeakSynthesizer().synthesize(text)


def test_missing_espeak_ng_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpeechError, match="espeak-ng is not installed"):
        EspeakSynthesizer()
    with pytest.raises(SpeechError, match="espeak-ng is not installed"):
        synthesizer_from_env({})


@needs_espeak
def test_offline_is_the_default_engine() -> None:
    assert isinstance(synthesizer_from_env({}), EspeakSynthesizer)
