"""Who answers: a pluggable `Responder`, offline until a language model is configured.

`AzureOpenAIResponder` streams from Azure OpenAI, and also writes conversation titles and
summaries for the background enricher (`ConversationWriter`). Its seam is `ChatCompletionsAPI`,
the one method of `AzureOpenAI().chat.completions` it calls, so tests pass a fake object there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from conversation_store import Message

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

OFFLINE_PREFIX = "(Offline responder — no language model is configured.)"
DEFAULT_API_VERSION = "2024-10-21"
DEFAULT_HISTORY_TOKENS = 8000
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for the conversation the user gives you. "
    "Answer with the title only, without quotes or a final period."
)
SUMMARY_INSTRUCTIONS = (
    "Summarize the conversation the user gives you in one or two plain sentences of at most "
    "50 words, saying what was asked and what was concluded. Answer with the summary only."
)
TRANSCRIPT_CHARS_PER_MESSAGE = 500  # bounds the prompt whatever the messages hold


@runtime_checkable
class Responder(Protocol):
    """Writes the assistant's reply to a conversation, streamed in pieces."""

    @property
    def model(self) -> str | None:
        """The model name stored in the reply's metadata; None for the offline responder."""
        ...

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        """The reply to `history` (oldest first, ending with the user's message)."""
        ...


@runtime_checkable
class ConversationWriter(Protocol):
    """Writes a conversation's title and summary (the enricher's language model)."""

    def write_title(self, history: Sequence[Message]) -> str: ...

    def write_summary(self, history: Sequence[Message]) -> str: ...


class OfflineResponder:
    """Echoes the user's last message and says plainly that no model is configured."""

    model: str | None = None

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        said = next((m.content for m in reversed(history) if m.role == "user" and m.content), "")
        yield f"{OFFLINE_PREFIX} You said: {said}"


class ChatCompletionsAPI(Protocol):
    """The part of `openai.AzureOpenAI().chat.completions` the responder uses."""

    def create(
        self,
        *,
        model: str,
        messages: Iterable[ChatCompletionMessageParam],
        stream: Literal[True],
    ) -> Iterable[ChatCompletionChunk]: ...


@dataclass(frozen=True)
class AzureOpenAIConfig:
    """Azure OpenAI settings; with no `api_key`, Entra ID (managed identity) is used."""

    endpoint: str
    deployment: str
    api_version: str = DEFAULT_API_VERSION
    api_key: str | None = field(default=None, repr=False)
    history_tokens: int = DEFAULT_HISTORY_TOKENS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AzureOpenAIConfig | None:
        """The configuration in `environ`, or None when endpoint or deployment is missing."""
        endpoint = environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
        deployment = environ.get("AZURE_OPENAI_DEPLOYMENT", "").strip()
        if not endpoint or not deployment:
            return None
        return cls(
            endpoint=endpoint,
            deployment=deployment,
            api_version=environ.get("AZURE_OPENAI_API_VERSION") or DEFAULT_API_VERSION,
            api_key=environ.get("AZURE_OPENAI_API_KEY") or None,
            history_tokens=int(
                environ.get("AZURE_OPENAI_HISTORY_TOKENS") or DEFAULT_HISTORY_TOKENS
            ),
        )


def to_chat_messages(
    history: Sequence[Message], *, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
) -> list[ChatCompletionMessageParam]:
    """The OpenAI chat messages for `history`; text turns only (this app makes no tool calls).

    The system prompt comes first unless the conversation starts with its own.
    """
    messages: list[ChatCompletionMessageParam] = []
    if system_prompt and not (history and history[0].role == "system"):
        messages.append({"role": "system", "content": system_prompt})
    for message in history:
        text = message.text  # the text of any content parts: this app sends text only
        if not text:
            continue
        if message.role == "system":
            messages.append({"role": "system", "content": text})
        elif message.role == "user":
            messages.append({"role": "user", "content": text})
        elif message.role == "assistant":
            messages.append({"role": "assistant", "content": text})
    return messages


def transcript(history: Sequence[Message]) -> str:
    """The user and assistant turns as plain text, each cut to a bounded length."""
    lines = []
    for message in history:
        if message.role in ("user", "assistant") and message.content:
            text = message.content[:TRANSCRIPT_CHARS_PER_MESSAGE]
            lines.append(f"{message.role.capitalize()}: {text}")
    return "\n\n".join(lines)


def chunk_text(chunk: ChatCompletionChunk) -> str:
    """The text a streamed chunk adds; "" for role-only, filter-result and usage chunks."""
    if not chunk.choices:
        return ""
    return chunk.choices[0].delta.content or ""


class AzureOpenAIResponder:
    """Streams replies from an Azure OpenAI chat deployment."""

    def __init__(
        self,
        completions: ChatCompletionsAPI,
        *,
        deployment: str,
        system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    ) -> None:
        self._completions = completions
        self._deployment = deployment
        self._system_prompt = system_prompt

    @property
    def model(self) -> str | None:
        return self._deployment

    @classmethod
    def from_config(cls, config: AzureOpenAIConfig) -> AzureOpenAIResponder:
        """A responder over a new `AzureOpenAI` client: API key if given, else Entra ID."""
        from openai import AzureOpenAI

        if config.api_key:
            client = AzureOpenAI(
                azure_endpoint=config.endpoint,
                api_key=config.api_key,
                api_version=config.api_version,
            )
        else:
            from azure.identity import DefaultAzureCredential, get_bearer_token_provider

            provider = get_bearer_token_provider(DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE)
            client = AzureOpenAI(
                azure_endpoint=config.endpoint,
                azure_ad_token_provider=provider,
                api_version=config.api_version,
            )
        return cls(client.chat.completions, deployment=config.deployment)

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        stream = self._completions.create(
            model=self._deployment,
            messages=to_chat_messages(history, system_prompt=self._system_prompt),
            stream=True,
        )
        for chunk in stream:
            text = chunk_text(chunk)
            if text:
                yield text

    def write_title(self, history: Sequence[Message]) -> str:
        return self._complete(TITLE_INSTRUCTIONS, history)

    def write_summary(self, history: Sequence[Message]) -> str:
        return self._complete(SUMMARY_INSTRUCTIONS, history)

    def _complete(self, instructions: str, history: Sequence[Message]) -> str:
        """One whole answer to `instructions` about the conversation, through the streaming
        call the replies use (so the one seam serves both)."""
        stream = self._completions.create(
            model=self._deployment,
            messages=[
                {"role": "system", "content": instructions},
                {"role": "user", "content": transcript(history)},
            ],
            stream=True,
        )
        return "".join(chunk_text(chunk) for chunk in stream)
