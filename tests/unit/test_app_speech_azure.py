"""Azure AI Speech for both directions: the settings, the key or Entra ID (managed identity)
authorization, and text to speech as SSML, sent to a local HTTP server standing in for the
service (127.0.0.1 only: no network here)."""

from __future__ import annotations

import io
import threading
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit_app.azure_speech import (
    COGNITIVE_SERVICES_SCOPE,
    DEFAULT_VOICE,
    AzureSpeechConfig,
    SpeechAuthorization,
)
from streamlit_app.speech import (
    AzureSpeechSynthesizer,
    SpeechError,
    speakable,
    ssml,
    synthesis_url,
    synthesizer_from_env,
)
from streamlit_app.transcribers import (
    AzureSpeechTranscriber,
    TranscriptionError,
    transcriber_from_env,
)

SSML_NS = "{http://www.w3.org/2001/10/synthesis}"
RESOURCE_ID = (
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/speech"
)


@dataclass
class Token:
    token: str


@dataclass
class RecordingCredential:
    """A TokenCredential (azure-identity's shape) that hands out one token and notes scopes."""

    token: str = "entra-token"
    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str) -> Any:
        self.scopes.append(scopes)
        return Token(self.token)


class NoIdentity:
    def get_token(self, *scopes: str) -> Any:
        raise RuntimeError("no managed identity endpoint")


def one_second_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(np.zeros(24000, dtype="<i2").tobytes())
    return buffer.getvalue()


class FakeSpeechService(BaseHTTPRequestHandler):
    """Answers every POST with `reply` and keeps the requests it got."""

    reply: ClassVar[tuple[int, bytes]] = (200, b"")
    requests: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        FakeSpeechService.requests.append((self.path, headers, body))
        status, payload = FakeSpeechService.reply
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeSpeechService)
    FakeSpeechService.requests = []
    FakeSpeechService.reply = (200, one_second_wav())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_settings_need_a_place_and_a_key_or_a_resource_id() -> None:
    assert AzureSpeechConfig.from_env({}) is None
    assert AzureSpeechConfig.from_env({"AZURE_SPEECH_KEY": "k"}) is None
    assert AzureSpeechConfig.from_env({"AZURE_SPEECH_REGION": "westeurope"}) is None
    keyless = AzureSpeechConfig.from_env(
        {"AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_RESOURCE_ID": RESOURCE_ID}
    )
    assert keyless is not None and keyless.key is None and keyless.voice == DEFAULT_VOICE
    voiced = AzureSpeechConfig.from_env(
        {"AZURE_SPEECH_KEY": "k", "AZURE_SPEECH_ENDPOINT": "https://x", "AZURE_SPEECH_VOICE": "v"}
    )
    assert voiced is not None and voiced.voice == "v"


def test_the_key_is_sent_as_the_subscription_header() -> None:
    authorization = SpeechAuthorization(AzureSpeechConfig(key="k", region="eastus"))
    assert authorization.headers() == {"Ocp-Apim-Subscription-Key": "k"}


def test_without_a_key_an_entra_token_is_sent_with_the_resource_id() -> None:
    credential = RecordingCredential()
    config = AzureSpeechConfig(region="eastus", resource_id=RESOURCE_ID)
    headers = SpeechAuthorization(config, credential=credential).headers()
    assert headers == {"Authorization": f"Bearer aad#{RESOURCE_ID}#entra-token"}
    assert credential.scopes == [(COGNITIVE_SERVICES_SCOPE,)]


def test_recognition_uses_the_same_authorization() -> None:
    config = AzureSpeechConfig(region="eastus", resource_id=RESOURCE_ID)
    transcriber = AzureSpeechTranscriber(config, credential=RecordingCredential())
    headers = dict(transcriber.build_request(one_second_wav()).header_items())
    assert headers["Authorization"] == f"Bearer aad#{RESOURCE_ID}#entra-token"
    failing = AzureSpeechTranscriber(config, credential=NoIdentity())
    with pytest.raises(TranscriptionError, match="no managed identity"):
        failing.transcribe(one_second_wav())


def test_synthesis_urls() -> None:
    assert synthesis_url(AzureSpeechConfig(key="k", region="westeurope")) == (
        "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    )
    assert synthesis_url(
        AzureSpeechConfig(key="k", endpoint="https://my.cognitiveservices.azure.com/")
    ) == ("https://my.cognitiveservices.azure.com/tts/cognitiveservices/v1")


@given(st.text())
def test_ssml_carries_any_text_escaped(text: str) -> None:
    words = speakable(text)
    root = ET.fromstring(ssml(words, voice="en-US-X'\"<Neural>", language="en-US"))
    voice = root.find(f"{SSML_NS}voice")
    assert voice is not None and voice.get("name") == "en-US-X'\"<Neural>"
    assert (voice.text or "") == words and list(voice) == []  # text only, no elements


def test_markup_in_a_reply_stays_text() -> None:
    hostile = "</voice><audio src='http://x'/>&amp; ]]> <!-- -->"
    voice = ET.fromstring(ssml(hostile, voice="v", language="en-US")).find(f"{SSML_NS}voice")
    assert voice is not None and voice.text == hostile and list(voice) == []


def test_a_reply_is_posted_as_ssml_and_the_wav_returned(service: str) -> None:
    config = AzureSpeechConfig(endpoint=service, resource_id=RESOURCE_ID, voice="en-US-AvaNeural")
    synthesizer = AzureSpeechSynthesizer(config, credential=RecordingCredential())
    assert synthesizer.synthesize("Fish & chips <3") == one_second_wav()
    [(path, headers, body)] = FakeSpeechService.requests
    assert path == "/tts/cognitiveservices/v1"
    assert headers["content-type"] == "application/ssml+xml"
    assert headers["x-microsoft-outputformat"] == "riff-24khz-16bit-mono-pcm"
    assert headers["authorization"] == f"Bearer aad#{RESOURCE_ID}#entra-token"
    voice = ET.fromstring(body).find(f"{SSML_NS}voice")
    assert voice is not None and voice.get("name") == "en-US-AvaNeural"
    assert voice.text == "Fish & chips <3"


@pytest.mark.parametrize(
    "reply",
    [(401, b"unauthorized"), (429, b""), (200, b'{"error": "not audio"}')],
)
def test_a_failing_service_is_a_speech_error(service: str, reply: tuple[int, bytes]) -> None:
    FakeSpeechService.reply = reply
    synthesizer = AzureSpeechSynthesizer(AzureSpeechConfig(key="k", endpoint=service))
    with pytest.raises(SpeechError):
        synthesizer.synthesize("hello")


def test_no_token_and_nothing_to_say_are_speech_errors(service: str) -> None:
    config = AzureSpeechConfig(endpoint=service, resource_id=RESOURCE_ID)
    with pytest.raises(SpeechError, match="no managed identity"):
        AzureSpeechSynthesizer(config, credential=NoIdentity()).synthesize("hello")
    with pytest.raises(SpeechError, match="nothing to say"):
        AzureSpeechSynthesizer(config, credential=RecordingCredential()).synthesize("\x00 \n")
    assert FakeSpeechService.requests == []


def test_configured_azure_is_chosen_for_both_directions() -> None:
    environ = {"AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_RESOURCE_ID": RESOURCE_ID}
    assert isinstance(synthesizer_from_env(environ), AzureSpeechSynthesizer)
    assert isinstance(transcriber_from_env(environ), AzureSpeechTranscriber)
