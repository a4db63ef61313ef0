"""WAV conversion and the Azure AI Speech recognition request (never sent: no network here);
the shared settings and Entra ID authorization are in test_app_speech_azure.py."""

from __future__ import annotations

import io
import json
import sys
import wave

import numpy as np
import pytest
from streamlit_app.audio import AudioFormatError, read_wav_mono, to_speech_pcm, to_speech_wav
from streamlit_app.azure_speech import AzureSpeechConfig
from streamlit_app.transcribers import (
    AzureSpeechTranscriber,
    PocketSphinxTranscriber,
    TranscriptionError,
    WhisperTranscriber,
    offline_transcriber,
    parse_recognition,
    recognition_url,
)


def make_wav(samples: np.ndarray, *, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_stereo_22k_becomes_16k_mono_16_bit() -> None:
    tone = (np.sin(np.arange(22050) / 10) * 10000).astype("<i2")
    stereo = np.repeat(tone, 2)  # interleaved L R
    pcm = to_speech_pcm(make_wav(stereo, rate=22050, channels=2))
    out = np.frombuffer(pcm, dtype="<i2")
    assert len(out) == 16000  # one second
    assert 9000 < np.abs(out).max() <= 10001


def test_8_bit_unsigned_is_centred() -> None:
    samples, rate = read_wav_mono(make_wav(np.full(100, 128, dtype="u1"), rate=8000, width=1))
    assert rate == 8000 and np.allclose(samples, 0.0)


def test_to_speech_wav_header() -> None:
    data = to_speech_wav(make_wav(np.zeros(441, dtype="<i2"), rate=44100))
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.getnframes() == 160


def test_not_a_wav() -> None:
    with pytest.raises(AudioFormatError):
        to_speech_pcm(b"not audio")


def test_azure_speech_config_from_env() -> None:
    assert AzureSpeechConfig.from_env({}) is None
    assert AzureSpeechConfig.from_env({"AZURE_SPEECH_KEY": "k"}) is None
    config = AzureSpeechConfig.from_env(
        {"AZURE_SPEECH_KEY": "k", "AZURE_SPEECH_REGION": "westeurope"}
    )
    assert config is not None and "k" not in repr(config)
    assert recognition_url(config) == (
        "https://westeurope.stt.speech.microsoft.com/speech/recognition/"
        "conversation/cognitiveservices/v1?language=en-US&format=simple"
    )
    custom = AzureSpeechConfig(
        key="k", endpoint="https://my.cognitiveservices.azure.com/", language="de-DE"
    )
    url = recognition_url(custom)
    assert url.startswith("https://my.cognitiveservices.azure.com/speech/recognition/")
    assert "language=de-DE" in url


def test_azure_speech_request() -> None:
    transcriber = AzureSpeechTranscriber(AzureSpeechConfig(key="k", region="eastus"))
    request = transcriber.build_request(make_wav(np.zeros(22050, dtype="<i2"), rate=22050))
    assert request.get_method() == "POST"
    assert request.full_url.startswith("https://eastus.stt.speech.microsoft.com/")
    headers = {name.lower(): value for name, value in request.header_items()}
    assert headers["ocp-apim-subscription-key"] == "k"
    assert headers["content-type"] == "audio/wav; codecs=audio/pcm; samplerate=16000"
    assert isinstance(request.data, bytes)
    with wave.open(io.BytesIO(request.data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16000, 1, 16000)


def test_parse_recognition() -> None:
    assert (
        parse_recognition(
            json.loads('{"RecognitionStatus": "Success", "DisplayText": "Hello world."}')
        )
        == "Hello world."
    )
    assert parse_recognition({"RecognitionStatus": "NoMatch"}) == ""
    with pytest.raises(TranscriptionError):
        parse_recognition({"RecognitionStatus": "Error"})
    with pytest.raises(TranscriptionError):
        parse_recognition([])


def test_offline_recognition_is_whisper_with_pocketsphinx_as_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(offline_transcriber(), WhisperTranscriber)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if not installed
    assert isinstance(offline_transcriber(), PocketSphinxTranscriber)


def test_whisper_hears_nothing_in_silence() -> None:
    silence = make_wav(np.zeros(16000, dtype="<i2"), rate=16000)
    assert WhisperTranscriber().transcribe(silence) == ""
    with pytest.raises(TranscriptionError):
        WhisperTranscriber().transcribe(b"not audio")
