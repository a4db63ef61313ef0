"""Azure AI Speech settings and authorization, shared by speech recognition and spoken replies.

Authorization is a resource key when one is set (`AZURE_SPEECH_KEY`), else Microsoft Entra ID
(managed identity in Azure, through `DefaultAzureCredential`): the REST APIs then take
`Authorization: Bearer aad#<resource id>#<token>`, so `AZURE_SPEECH_RESOURCE_ID` names the
Speech resource (its Azure resource id) and the identity needs the "Cognitive Services Speech
User" role on it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_LANGUAGE = "en-US"
DEFAULT_VOICE = "en-US-JennyNeural"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class TokenCredential(Protocol):
    """What azure-identity's credentials offer: `get_token(scope).token`."""

    def get_token(self, *scopes: str) -> Any: ...


@dataclass(frozen=True)
class AzureSpeechConfig:
    """Azure AI Speech: a region or an endpoint, and a key or the resource id (Entra ID)."""

    key: str | None = field(default=None, repr=False)
    region: str | None = None
    endpoint: str | None = None
    resource_id: str | None = None
    language: str = DEFAULT_LANGUAGE
    voice: str = DEFAULT_VOICE

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AzureSpeechConfig | None:
        """The settings in `environ`; None unless a region or endpoint and a key or resource
        id are set."""

        def setting(value: str | None) -> str | None:
            return (value or "").strip() or None

        key = setting(environ.get("AZURE_SPEECH_KEY"))
        resource_id = setting(environ.get("AZURE_SPEECH_RESOURCE_ID"))
        region = setting(environ.get("AZURE_SPEECH_REGION"))
        endpoint = setting(environ.get("AZURE_SPEECH_ENDPOINT"))
        if not (key or resource_id) or not (region or endpoint):
            return None
        return cls(
            key=key,
            region=region,
            endpoint=endpoint,
            resource_id=resource_id,
            language=setting(environ.get("AZURE_SPEECH_LANGUAGE")) or DEFAULT_LANGUAGE,
            voice=setting(environ.get("AZURE_SPEECH_VOICE")) or DEFAULT_VOICE,
        )

    def base_url(self, service: str) -> str:
        """The endpoint, else the regional host of `service` ("stt" or "tts")."""
        return (self.endpoint or f"https://{self.region}.{service}.speech.microsoft.com").rstrip(
            "/"
        )


class SpeechAuthorization:
    """The authorization header of each request: the key, else an Entra ID token.

    The credential is built on first use (azure-identity caches its tokens); thread-safe.
    """

    def __init__(
        self, config: AzureSpeechConfig, *, credential: TokenCredential | None = None
    ) -> None:
        self._config = config
        self._credential = credential
        self._lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        """The header to send. Raises whatever the credential raises when it gets no token."""
        if self._config.key:
            return {"Ocp-Apim-Subscription-Key": self._config.key}
        token = self._token_credential().get_token(COGNITIVE_SERVICES_SCOPE).token
        return {"Authorization": f"Bearer aad#{self._config.resource_id}#{token}"}

    def _token_credential(self) -> TokenCredential:
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
            return self._credential
