"""Speech to text: a pluggable `Transcriber`, Azure AI Speech when configured, else offline.

The offline `PocketSphinxTranscriber` runs CMU PocketSphinx with the English model its wheel
ships: no network, modest accuracy. `AzureSpeechTranscriber` calls the Speech REST API for
short audio (up to 60 s), which is what a chat recording is.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .audio import SPEECH_RATE, to_speech_pcm, to_speech_wav

DEFAULT_LANGUAGE = "en-US"
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


@dataclass(frozen=True)
class AzureSpeechConfig:
    """Azure AI Speech: a key plus a region or an endpoint."""

    key: str = field(repr=False)
    region: str | None = None
    endpoint: str | None = None
    language: str = DEFAULT_LANGUAGE

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AzureSpeechConfig | None:
        key = environ.get("AZURE_SPEECH_KEY", "").strip()
        region = environ.get("AZURE_SPEECH_REGION", "").strip() or None
        endpoint = environ.get("AZURE_SPEECH_ENDPOINT", "").strip() or None
        if not key or not (region or endpoint):
            return None
        return cls(
            key=key,
            region=region,
            endpoint=endpoint,
            language=environ.get("AZURE_SPEECH_LANGUAGE") or DEFAULT_LANGUAGE,
        )

    @property
    def url(self) -> str:
        base = (self.endpoint or f"https://{self.region}.stt.speech.microsoft.com").rstrip("/")
        query = urllib.parse.urlencode({"language": self.language, "format": "simple"})
        return f"{base}{_SHORT_AUDIO_PATH}?{query}"


class AzureSpeechTranscriber:
    """Azure AI Speech, REST API for short audio."""

    name = "Azure AI Speech"

    def __init__(self, config: AzureSpeechConfig, *, timeout: float = 30.0) -> None:
        self._config = config
        self._timeout = timeout

    def build_request(self, wav: bytes) -> urllib.request.Request:
        """The POST of `wav`, converted to the 16 kHz mono PCM the service documents."""
        return urllib.request.Request(
            self._config.url,
            data=to_speech_wav(wav),
            method="POST",
            headers={
                "Ocp-Apim-Subscription-Key": self._config.key,
                "Content-Type": f"audio/wav; codecs=audio/pcm; samplerate={SPEECH_RATE}",
                "Accept": "application/json",
            },
        )

    def transcribe(self, wav: bytes) -> str:
        try:
            request = self.build_request(wav)
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = json.loads(response.read())
        except (OSError, ValueError) as exc:
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
    """Azure AI Speech when configured, else offline PocketSphinx."""
    config = AzureSpeechConfig.from_env(environ)
    if config is not None:
        return AzureSpeechTranscriber(config)
    return PocketSphinxTranscriber()
