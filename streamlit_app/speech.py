"""Text to speech: a pluggable `Synthesizer`, Azure AI Speech when configured, else espeak-ng.

Every engine answers with a WAV file. The text is made speakable first (`speakable`): control
characters, lone surrogates and other unprintable code points become spaces, and a long text
is cut at `MAX_SPOKEN_CHARS` on a word boundary, so a long reply is not read out for minutes.
espeak-ng (Debian's package) runs without a shell and reads the text on its standard input, so
no text can become one of its options; Azure AI Speech gets the text XML-escaped in SSML.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable
from xml.sax.saxutils import escape, quoteattr

from .azure_speech import AzureSpeechConfig, SpeechAuthorization, TokenCredential

MAX_SPOKEN_CHARS = 1500  # about a minute and a half of speech
_AZURE_OUTPUT_FORMAT = "riff-24khz-16bit-mono-pcm"  # a WAV file


class SpeechError(RuntimeError):
    """The text could not be turned into speech; the message says why."""


@runtime_checkable
class Synthesizer(Protocol):
    """Turns text into a spoken WAV file."""

    @property
    def name(self) -> str:
        """Shown in the UI next to the spoken replies toggle."""
        ...

    def synthesize(self, text: str) -> bytes:
        """A WAV file of `text` read aloud (cut at MAX_SPOKEN_CHARS). Raises SpeechError."""
        ...


def speakable(text: str, *, limit: int = MAX_SPOKEN_CHARS) -> str:
    """`text` with unprintable code points as spaces, runs of white space as one, and cut to
    at most `limit` characters, at the last space when there is one."""
    words = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(words) <= limit:
        return words
    cut = words[: limit + 1]
    return cut.rsplit(" ", 1)[0] if " " in cut else words[:limit]


def _words_or_raise(text: str) -> str:
    words = speakable(text)
    if not words:
        raise SpeechError("there is nothing to say")
    return words


class EspeakSynthesizer:
    """Offline speech with espeak-ng, through its command line, one process per text."""

    name = "offline speech (espeak-ng)"
    voice = "en-us"
    words_per_minute = 170

    def __init__(self, *, timeout: float = 60.0) -> None:
        """Raises SpeechError when espeak-ng is not on PATH."""
        executable = shutil.which("espeak-ng")
        if executable is None:
            raise SpeechError(
                "espeak-ng is not installed: install the Debian package espeak-ng "
                "(scripts/install-system-deps.sh does), or configure Azure AI Speech"
            )
        self._executable = executable
        self._timeout = timeout

    def synthesize(self, text: str) -> bytes:
        words = _words_or_raise(text)
        with tempfile.TemporaryDirectory(prefix="speech-") as folder:
            wav = Path(folder) / "speech.wav"  # a file, not stdout: its header gets the length
            command = [self._executable, "-v", self.voice, "-s", str(self.words_per_minute)]
            command += ["-b", "1", "--stdin", "-w", str(wav)]  # UTF-8 text on standard input
            try:
                subprocess.run(
                    command, input=words.encode(), capture_output=True, timeout=self._timeout
                ).check_returncode()
                audio = wav.read_bytes()
            except subprocess.CalledProcessError as exc:
                detail = exc.stderr.decode(errors="replace").strip()
                raise SpeechError(f"espeak-ng failed: {detail}") from exc
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SpeechError(f"espeak-ng failed: {exc}") from exc
        return _checked_wav(audio, engine="espeak-ng")


def synthesis_url(config: AzureSpeechConfig) -> str:
    """The text-to-speech URL of `config`'s custom endpoint or region."""
    if config.endpoint:
        return f"{config.endpoint.rstrip('/')}/tts/cognitiveservices/v1"
    return f"{config.base_url('tts')}/cognitiveservices/v1"


def ssml(text: str, *, voice: str, language: str) -> str:
    """The SSML document reading `text` (escaped) with `voice`."""
    return (
        f"<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' "
        f"xml:lang={quoteattr(language)}><voice name={quoteattr(voice)}>"
        f"{escape(text)}</voice></speak>"
    )


class AzureSpeechSynthesizer:
    """Azure AI Speech, text-to-speech REST API, with the key or Entra ID."""

    name = "Azure AI Speech"

    def __init__(
        self,
        config: AzureSpeechConfig,
        *,
        credential: TokenCredential | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._config = config
        self._authorization = SpeechAuthorization(config, credential=credential)
        self._timeout = timeout

    def build_request(self, text: str) -> urllib.request.Request:
        """The POST of `text` as SSML. Raises SpeechError when there is nothing to say, and
        what the credential raises when it gets no token."""
        document = ssml(
            _words_or_raise(text), voice=self._config.voice, language=self._config.language
        )
        return urllib.request.Request(
            synthesis_url(self._config),
            data=document.encode(),
            method="POST",
            headers={
                **self._authorization.headers(),
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": _AZURE_OUTPUT_FORMAT,
                "User-Agent": "conversation-store",
            },
        )

    def synthesize(self, text: str) -> bytes:
        try:
            request = self.build_request(text)
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                audio = response.read()
        except SpeechError:
            raise
        except Exception as exc:  # network, HTTP status or credential failures
            raise SpeechError(f"Azure AI Speech failed: {exc}") from exc
        return _checked_wav(audio, engine="Azure AI Speech")


def _checked_wav(audio: bytes, *, engine: str) -> bytes:
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise SpeechError(f"{engine} did not answer with a WAV file")
    return audio


def synthesizer_from_env(environ: Mapping[str, str]) -> Synthesizer:
    """Azure AI Speech when configured, else espeak-ng. Raises SpeechError when espeak-ng is
    needed and missing."""
    config = AzureSpeechConfig.from_env(environ)
    if config is not None:
        return AzureSpeechSynthesizer(config)
    return EspeakSynthesizer()
