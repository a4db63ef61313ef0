"""Responders: the offline one says what it is; Azure OpenAI at our ChatCompletionsAPI seam."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from streamlit_app.responders import (
    OFFLINE_PREFIX,
    AzureOpenAIConfig,
    AzureOpenAIResponder,
    OfflineResponder,
    Responder,
    to_chat_messages,
)

from conversation_store import Message

NOW = datetime(2025, 1, 24, tzinfo=UTC)


def msg(role: str, content: str | None) -> Message:
    return Message(role=role, content=content, timestamp=NOW)  # type: ignore[arg-type]


def chunk(text: str | None, *, choices: bool = True) -> SimpleNamespace:
    delta = SimpleNamespace(content=text, role="assistant")
    return SimpleNamespace(choices=[SimpleNamespace(delta=delta, index=0)] if choices else [])


class FakeCompletions:
    def __init__(self, chunks: list[SimpleNamespace]) -> None:
        self.chunks = chunks
        self.calls: list[dict[str, Any]] = []

    def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return iter(self.chunks)


def test_offline_responder_echoes_and_says_it_is_offline() -> None:
    responder = OfflineResponder()
    assert isinstance(responder, Responder) and responder.model is None
    reply = "".join(
        responder.stream_reply([msg("user", "one"), msg("assistant", "x"), msg("user", "two")])
    )
    assert reply == f"{OFFLINE_PREFIX} You said: two"
    assert "no language model is configured" in reply


def test_messages_start_with_the_system_prompt_and_skip_non_text() -> None:
    history = [
        msg("user", "hi"),
        msg("assistant", None),
        msg("tool", "r"),
        msg("assistant", "hello"),
    ]
    assert to_chat_messages(history, system_prompt="Be kind.") == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


def test_a_conversation_system_message_replaces_the_default_prompt() -> None:
    history = [msg("system", "Talk like a pirate."), msg("user", "hi")]
    assert to_chat_messages(history) == [
        {"role": "system", "content": "Talk like a pirate."},
        {"role": "user", "content": "hi"},
    ]


def test_azure_responder_streams_text_chunks_only() -> None:
    completions = FakeCompletions(
        [chunk(None, choices=False), chunk(None), chunk("Hel"), chunk(""), chunk("lo!")]
    )
    responder = AzureOpenAIResponder(completions, deployment="gpt-4o", system_prompt=None)
    pieces = list(responder.stream_reply([msg("user", "hi")]))
    assert pieces == ["Hel", "lo!"]
    assert responder.model == "gpt-4o"
    assert completions.calls == [
        {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ]


def test_config_from_env() -> None:
    assert AzureOpenAIConfig.from_env({}) is None
    assert AzureOpenAIConfig.from_env({"AZURE_OPENAI_ENDPOINT": "https://x"}) is None
    config = AzureOpenAIConfig.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
            "AZURE_OPENAI_DEPLOYMENT": "d",
            "AZURE_OPENAI_API_KEY": "secret",
            "AZURE_OPENAI_HISTORY_TOKENS": "1000",
        }
    )
    assert config is not None
    assert (config.deployment, config.api_key, config.history_tokens) == ("d", "secret", 1000)
    assert "secret" not in repr(config)


def test_from_config_builds_a_client_without_network() -> None:
    # With a key: no credential lookup; without: a token provider (token fetched lazily).
    for key in ("secret", None):
        config = AzureOpenAIConfig(
            endpoint="https://x.openai.azure.com", deployment="d", api_key=key
        )
        assert AzureOpenAIResponder.from_config(config).model == "d"
