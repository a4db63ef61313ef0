"""Responders: the offline one says what it is; Azure OpenAI at our ChatCompletionsAPI seam."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from streamlit_app.responders import (
    OFFLINE_PREFIX,
    SUMMARY_INSTRUCTIONS,
    TITLE_INSTRUCTIONS,
    AzureOpenAIConfig,
    AzureOpenAIResponder,
    ConversationWriter,
    OfflineResponder,
    Responder,
    to_chat_messages,
    transcript,
)
from streamlit_app.services import enricher_for

from conversation_store import ConversationManager, MemoryStore, Message

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


def test_azure_responder_writes_titles_and_summaries_for_the_enricher() -> None:
    completions = FakeCompletions([chunk("Trip "), chunk(None), chunk("to Tokyo")])
    responder = AzureOpenAIResponder(completions, deployment="gpt-4o-mini")
    assert isinstance(responder, ConversationWriter)
    assert not isinstance(OfflineResponder(), ConversationWriter)
    history = [msg("user", "Plan a trip " + "x" * 600), msg("tool", "r"), msg("assistant", "Ok")]
    assert responder.write_title(history) == "Trip to Tokyo"
    assert responder.write_summary(history) == "Trip to Tokyo"
    title_call, summary_call = completions.calls
    assert title_call["messages"][0] == {"role": "system", "content": TITLE_INSTRUCTIONS}
    assert summary_call["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    prompt = title_call["messages"][1]["content"]
    assert prompt == transcript(history)
    assert prompt.startswith("User: Plan a trip x") and prompt.endswith("\n\nAssistant: Ok")
    assert len(prompt) < 600  # each message is cut, and the tool message left out


def stored_exchange(manager: ConversationManager) -> str:
    conversation = manager.create_conversation_document("u1", "s")
    manager.add_message_to_conversation(conversation, "user", "hi there")
    manager.add_message_to_conversation(conversation, "assistant", "hello")
    return manager.save_conversation(conversation).id


@pytest.mark.parametrize(
    ("responder", "title"),
    [
        (
            AzureOpenAIResponder(FakeCompletions([chunk("Model title")]), deployment="d"),
            "Model title",
        ),
        (OfflineResponder(), "hi there"),  # the local rule: no model to ask
    ],
)
def test_enricher_for_asks_the_model_only_when_there_is_one(
    responder: Responder, title: str
) -> None:
    manager = ConversationManager(MemoryStore())
    conversation_id = stored_exchange(manager)
    with enricher_for(manager, responder) as enricher:
        enricher.submit(conversation_id, "u1")
        assert enricher.wait_idle(10)
    assert manager.load_conversation(conversation_id, "u1").title == title
