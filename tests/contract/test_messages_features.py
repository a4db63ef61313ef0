"""Issue 6 contract, message features: rich messages, tokens, windows, search, edit, fork.

Every backend (memory, SQLite, the outbox wrapper and Cosmos DB) must pass each test unchanged.
"""

from __future__ import annotations

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
)
from conversation_store.history import as_chat_messages
from conversation_store.tokens import count_message_tokens, count_tokens

WEATHER_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'},
}


def _chat(manager: ConversationManager, customer: str, *lines: tuple[str, str]) -> str:
    doc = manager.create_conversation_document(customer, "s1", title=f"{customer} chat")
    for role, content in lines:
        manager.add_message_to_conversation(doc, role, content)
    manager.save_conversation(doc)
    return doc.id


def _tool_chat(manager: ConversationManager) -> str:
    doc = manager.create_conversation_document(
        "alice",
        "s1",
        title="Weather",
        persona="travel-agent",
        org_id="org-7",
        metadata={"sender_id": "u-42", "platform": "telegram", "chat_id": "chat-9"},
    )
    manager.add_message_to_conversation(doc, "system", "You are a travel agent.")
    manager.add_message_to_conversation(doc, "user", "Weather in Tokyo?")
    manager.add_message_to_conversation(doc, "assistant", None, tool_calls=[WEATHER_CALL])
    manager.add_message_to_conversation(
        doc, "tool", '{"temp": 21}', tool_call_id="call_1", name="get_weather"
    )
    manager.add_message_to_conversation(doc, "assistant", "It is 21 degrees in Tokyo.")
    manager.save_conversation(doc)
    return doc.id


def test_tool_calls_and_rich_metadata_come_back_in_chat_api_shape(
    manager: ConversationManager,
) -> None:
    conversation_id = _tool_chat(manager)

    loaded = manager.load_conversation(conversation_id, "alice")

    assert (loaded.persona, loaded.org_id) == ("travel-agent", "org-7")
    assert loaded.metadata == {"sender_id": "u-42", "platform": "telegram", "chat_id": "chat-9"}
    assert as_chat_messages(loaded.messages) == [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Weather in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
        {
            "role": "tool",
            "content": '{"temp": 21}',
            "tool_call_id": "call_1",
            "name": "get_weather",
        },
        {"role": "assistant", "content": "It is 21 degrees in Tokyo."},
    ]


def test_tokens_are_counted_unless_given_and_the_total_follows(
    manager: ConversationManager,
) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    counted = manager.add_message_to_conversation(doc, "user", "How many tokens is this?")
    given = manager.add_message_to_conversation(doc, "assistant", "Seven.", tokens=7)
    call = manager.add_message_to_conversation(doc, "assistant", None, tool_calls=[WEATHER_CALL])
    manager.save_conversation(doc)
    appended = manager.append_message(doc.id, "alice", "user", "And now?")

    loaded = manager.load_conversation(doc.id, "alice")

    assert counted.tokens == count_tokens("How many tokens is this?") > 0
    assert given.tokens == 7
    assert call.tokens == count_message_tokens(None, call.tool_calls) > 0
    assert [m.tokens for m in loaded.messages] == [
        counted.tokens,
        7,
        call.tokens,
        count_tokens("And now?"),
    ]
    assert loaded.total_tokens == sum(m.tokens or 0 for m in loaded.messages)
    assert appended.message_ids == [loaded.messages[-1].id]


def test_token_budget_window_keeps_system_and_never_splits_a_tool_call(
    manager: ConversationManager,
) -> None:
    conversation_id = _tool_chat(manager)
    everything = manager.load_conversation(conversation_id, "alice").messages
    # Room for the system message and the last answer, and for the tool result but not for
    # the call that asked for it.
    cost = {m.id: (m.tokens or 0) + 4 for m in everything}
    budget = cost[everything[0].id] + cost[everything[-1].id] + cost[everything[-2].id]

    window = manager.get_history(conversation_id, "alice", max_tokens=budget)

    assert [m.role for m in window] == ["system", "assistant"]
    assert window[-1].content == "It is 21 degrees in Tokyo."


@pytest.mark.capability("search")
def test_search_finds_word_prefixes_in_the_customers_conversations_only(
    manager: ConversationManager,
) -> None:
    tokyo = _chat(
        manager, "alice", ("user", "Plan a trip to Tokyo"), ("assistant", "Tokyo in spring!")
    )
    _chat(manager, "alice", ("user", "Recipe for ramen"), ("assistant", "Boil the noodles."))
    _chat(manager, "mallory", ("user", "Tokyo secrets of mallory"))

    hits = manager.search_conversations("alice", "tok")

    assert {(h.conversation_id, h.role) for h in hits} == {(tokyo, "user"), (tokyo, "assistant")}
    assert all(h.conversation_title == "alice chat" for h in hits)
    assert all("Tokyo" in h.snippet for h in hits)
    assert manager.search_conversations("alice", "okyo") == []  # not a word start
    assert [h.role for h in manager.search_conversations("alice", "TRIP tokyo")] == ["user"]
    assert manager.search_conversations("alice", "tokyo ramen") == []
    assert len(manager.search_conversations("alice", "tokyo", limit=1)) == 1
    assert manager.search_conversations("bob", "tokyo") == []


@pytest.mark.capability("search")
@pytest.mark.parametrize("query", ['"tokyo', "tokyo*", "NEAR(tokyo)", "tokyo OR", "-tokyo", "a:b"])
def test_search_treats_query_syntax_as_plain_words(
    manager: ConversationManager, query: str
) -> None:
    _chat(manager, "alice", ("user", "tokyo a:b OR near"))

    hits = manager.search_conversations("alice", query)

    assert [h.role for h in hits] == ["user"]


@pytest.mark.capability("search")
@pytest.mark.parametrize("query", ["", "   ", "?!", "x" * 201])
def test_search_refuses_queries_without_words(manager: ConversationManager, query: str) -> None:
    with pytest.raises(InvalidInputError):
        manager.search_conversations("alice", query)


@pytest.mark.capability("search", "editing")
def test_search_reflects_edits_and_deletes(manager: ConversationManager) -> None:
    conversation_id = _chat(manager, "alice", ("user", "about kyoto"), ("user", "about osaka"))
    first, second = manager.load_conversation(conversation_id, "alice").messages

    manager.edit_message(conversation_id, "alice", first.id or "", "about nara")
    manager.delete_message(conversation_id, "alice", second.id or "")

    assert manager.search_conversations("alice", "kyoto") == []
    assert manager.search_conversations("alice", "osaka") == []
    assert [h.message_id for h in manager.search_conversations("alice", "nara")] == [first.id]
    manager.delete_conversation(conversation_id, "alice")
    assert manager.search_conversations("alice", "nara") == []


@pytest.mark.capability("editing")
def test_edit_message_keeps_its_place_and_updates_tokens(manager: ConversationManager) -> None:
    conversation_id = _chat(
        manager, "alice", ("user", "one"), ("assistant", "two"), ("user", "three")
    )
    before = manager.load_conversation(conversation_id, "alice")
    target = before.messages[1]

    edited = manager.edit_message(
        conversation_id, "alice", target.id or "", "a much longer second answer"
    )
    after = manager.load_conversation(conversation_id, "alice")

    assert [m.content for m in after.messages] == ["one", "a much longer second answer", "three"]
    assert after.messages[1].id == target.id
    assert after.messages[1].role == "assistant"
    assert after.messages[1].tokens == edited.tokens == count_tokens("a much longer second answer")
    assert "edited_at" in after.messages[1].metadata
    assert after.message_count == 3
    assert after.total_tokens == sum(m.tokens or 0 for m in after.messages)


@pytest.mark.capability("editing")
def test_delete_message_removes_only_that_message(manager: ConversationManager) -> None:
    conversation_id = _chat(
        manager, "alice", ("user", "one"), ("assistant", "two"), ("user", "three")
    )
    target = manager.load_conversation(conversation_id, "alice").messages[1]

    manager.delete_message(conversation_id, "alice", target.id or "")
    after = manager.load_conversation(conversation_id, "alice")

    assert [m.content for m in after.messages] == ["one", "three"]
    assert after.message_count == 2
    assert after.total_tokens == sum(m.tokens or 0 for m in after.messages)
    with pytest.raises(MessageNotFoundError):
        manager.delete_message(conversation_id, "alice", target.id or "")


@pytest.mark.capability("editing")
def test_edit_and_delete_are_scoped_to_the_customer(manager: ConversationManager) -> None:
    conversation_id = _chat(manager, "alice", ("user", "private"))
    message_id = manager.load_conversation(conversation_id, "alice").messages[0].id or ""

    with pytest.raises(ConversationNotFoundError):
        manager.edit_message(conversation_id, "mallory", message_id, "hacked")
    with pytest.raises(ConversationNotFoundError):
        manager.delete_message(conversation_id, "mallory", message_id)
    with pytest.raises(MessageNotFoundError):
        manager.edit_message(conversation_id, "alice", "m_missing", "text")
    with pytest.raises(InvalidInputError):
        manager.edit_message(conversation_id, "alice", message_id, "   ")

    assert manager.load_conversation(conversation_id, "alice").messages[0].content == "private"


def test_fork_copies_messages_up_to_the_chosen_one(manager: ConversationManager) -> None:
    source_id = _chat(manager, "alice", ("user", "one"), ("assistant", "two"), ("user", "three"))
    source = manager.load_conversation(source_id, "alice")

    fork = manager.fork_conversation(source_id, "alice", source.messages[1].id or "")
    loaded_fork = manager.load_conversation(fork.id, "alice")
    manager.append_message(fork.id, "alice", "user", "a different three")

    assert fork.id != source_id
    assert [m.content for m in loaded_fork.messages] == ["one", "two"]
    assert loaded_fork.title == "alice chat (fork)"
    assert loaded_fork.metadata["forked_from"] == {
        "conversation_id": source_id,
        "message_id": source.messages[1].id,
    }
    assert loaded_fork.total_tokens == sum(m.tokens or 0 for m in loaded_fork.messages)
    assert manager.load_conversation(source_id, "alice").messages == source.messages
    with pytest.raises(ConversationNotFoundError):
        manager.fork_conversation(source_id, "mallory", source.messages[1].id or "")
    with pytest.raises(MessageNotFoundError):
        manager.fork_conversation(source_id, "alice", "m_missing")
