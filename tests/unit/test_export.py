"""JSON export is the stored document, lossless; Markdown is a readable transcript."""

from __future__ import annotations

import json

from conversation_store import Conversation, ConversationManager, MemoryStore
from conversation_store.export import conversation_to_json, conversation_to_markdown


def sample() -> Conversation:
    manager = ConversationManager(MemoryStore())
    conversation = manager.create_conversation_document(
        "user_1", "s_1", title="Trip to Tokyo", metadata={"lang": "en"}
    )
    manager.add_message_to_conversation(conversation, "system", "Be brief.")
    manager.add_message_to_conversation(conversation, "user", "Héllo *there*", tokens=3)
    manager.add_message_to_conversation(
        conversation,
        "assistant",
        None,
        tool_calls=[{"id": "call_1", "function": {"name": "weather", "arguments": '{"c":1}'}}],
        metadata={"model": "gpt-4o"},
    )
    manager.add_message_to_conversation(
        conversation, "tool", "sunny", tool_call_id="call_1", name="weather"
    )
    return conversation


def test_json_round_trips_the_whole_document() -> None:
    conversation = sample()
    text = conversation_to_json(conversation)
    assert json.loads(text) == conversation.to_document()
    again = Conversation.model_validate_json(text)
    assert again.to_document() == conversation.to_document()
    assert "Héllo" in text  # not escaped


def test_seed_document_without_ids_exports() -> None:
    seed = Conversation.model_validate(
        {
            "id": "c_seed",
            "customer_id": "u",
            "session_id": "s",
            "created_at": "2025-01-24T10:30:00Z",
            "updated_at": "2025-01-24T10:35:00Z",
            "messages": [{"role": "user", "content": "Hello", "timestamp": "2025-01-24T10:30:00Z"}],
        }
    )
    assert json.loads(conversation_to_json(seed))["messages"][0]["content"] == "Hello"
    assert "## User" in conversation_to_markdown(seed)


def test_markdown_has_title_roles_content_and_tool_calls() -> None:
    markdown = conversation_to_markdown(sample())
    assert markdown.startswith("# Trip to Tokyo\n")
    for expected in (
        "## System",
        "Be brief.",
        "## User",
        "Héllo *there*",
        "## Assistant",
        "Tool call `weather` (`call_1`)",
        '{"c":1}',
        "## Tool (weather)",
        "sunny",
        "(result of tool call `call_1`)",
        "- Messages: 4",
    ):
        assert expected in markdown
    assert markdown.index("## User") < markdown.index("## Assistant") < markdown.index("## Tool")


def test_markdown_without_title_or_messages() -> None:
    conversation = ConversationManager(MemoryStore()).create_conversation_document("u", None)
    markdown = conversation_to_markdown(conversation)
    assert markdown.startswith("# Conversation\n")
    assert "- Messages: 0" in markdown
