"""The store contract: every backend must pass every test here unchanged."""

from __future__ import annotations

import pytest

from conversation_store import (
    ConflictError,
    ConversationKey,
    ConversationManager,
    ConversationNotFoundError,
    ConversationStore,
    HeaderUpdate,
    StoreClosedError,
)
from conversation_store.models import Conversation
from conversation_store.tokens import count_tokens

SEED_DOCUMENT = {
    "id": "a1b2c3",
    "customer_id": "user_123",
    "session_id": "streamlit-session-id",
    "created_at": "2025-01-24T10:30:00Z",
    "updated_at": "2025-01-24T10:35:00Z",
    "messages": [
        {"role": "user", "content": "Hello", "timestamp": "2025-01-24T10:30:00Z"},
        {"role": "assistant", "content": "Hi there!", "timestamp": "2025-01-24T10:30:15Z"},
    ],
}


def _saved_chat(manager: ConversationManager, customer: str = "alice", turns: int = 1) -> str:
    doc = manager.create_conversation_document(customer, "session-1", title="Trip to Tokyo")
    for n in range(turns):
        manager.add_message_to_conversation(doc, "user", f"question {n}", tokens=3)
        manager.add_message_to_conversation(doc, "assistant", f"answer {n}", tokens=5)
    manager.save_conversation(doc)
    return doc.id


def test_saved_conversation_loads_with_messages_and_counters(manager: ConversationManager) -> None:
    doc = manager.create_conversation_document(
        "alice", "s1", title="Plans", persona="guide", org_id="org-9", metadata={"lang": "en"}
    )
    manager.add_message_to_conversation(doc, "system", "You are helpful.")
    manager.add_message_to_conversation(doc, "user", "Hello", tokens=2, metadata={"v": 1})
    manager.add_message_to_conversation(
        doc, "assistant", "Hi!", tokens=15, metadata={"model": "gpt-4o"}
    )
    manager.save_conversation(doc)

    loaded = manager.load_conversation(doc.id, "alice")

    assert [(m.role, m.content) for m in loaded.messages] == [
        ("system", "You are helpful."),
        ("user", "Hello"),
        ("assistant", "Hi!"),
    ]
    assert [m.id for m in loaded.messages] == [m.id for m in doc.messages]
    system_tokens = count_tokens("You are helpful.")  # counted: the caller gave none
    assert (loaded.message_count, loaded.total_tokens) == (3, system_tokens + 17)
    assert (loaded.title, loaded.persona, loaded.org_id) == ("Plans", "guide", "org-9")
    assert loaded.metadata == {"lang": "en"}
    assert loaded.messages[2].metadata == {"model": "gpt-4o"}
    assert loaded.session_id == "s1"
    assert loaded.messages[1].timestamp == doc.messages[1].timestamp


def test_seed_schema_document_loads_unchanged(store: ConversationStore) -> None:
    store.create_conversation(Conversation.model_validate(SEED_DOCUMENT))
    manager = ConversationManager(store)

    loaded = manager.load_conversation("a1b2c3", "user_123")

    document = loaded.to_document()
    assert document["session_id"] == "streamlit-session-id"
    assert [(m["role"], m["content"]) for m in document["messages"]] == [
        ("user", "Hello"),
        ("assistant", "Hi there!"),
    ]
    assert document["messages"][1]["timestamp"].startswith("2025-01-24T10:30:15")
    assert loaded.message_count == 2
    manager.append_message("a1b2c3", "user_123", "user", "And now?")
    assert manager.load_conversation("a1b2c3", "user_123").message_count == 3


def test_save_sends_only_new_messages_and_never_duplicates(manager: ConversationManager) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "one")
    manager.save_conversation(doc)
    manager.save_conversation(doc)
    manager.add_message_to_conversation(doc, "assistant", "two")
    manager.save_conversation(doc)
    manager.save_conversation(doc)

    loaded = manager.load_conversation(doc.id, "alice")

    assert [m.content for m in loaded.messages] == ["one", "two"]
    assert loaded.message_count == 2


def test_retried_create_whose_first_attempt_landed_does_not_duplicate(
    manager: ConversationManager,
) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "hello")
    retry = doc.model_copy(deep=True)  # the caller never saw the first save succeed
    manager.save_conversation(doc)

    manager.save_conversation(retry)

    assert [m.content for m in manager.load_conversation(doc.id, "alice").messages] == ["hello"]


def test_append_message_with_same_id_is_stored_once(manager: ConversationManager) -> None:
    conversation_id = _saved_chat(manager)
    first = manager.append_message(conversation_id, "alice", "user", "again", message_id="m_fixed")
    retry = manager.append_message(conversation_id, "alice", "user", "again", message_id="m_fixed")

    loaded = manager.load_conversation(conversation_id, "alice")
    assert first.message_ids == retry.message_ids == ["m_fixed"]
    assert [m.id for m in loaded.messages].count("m_fixed") == 1
    assert loaded.message_count == 3


def test_identical_consecutive_messages_are_both_kept(manager: ConversationManager) -> None:
    conversation_id = _saved_chat(manager)
    manager.append_message(conversation_id, "alice", "user", "yes")
    manager.append_message(conversation_id, "alice", "user", "yes")

    contents = [m.content for m in manager.load_conversation(conversation_id, "alice").messages]
    assert contents[-2:] == ["yes", "yes"]


def test_tool_calls_round_trip_in_openai_shape(manager: ConversationManager) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "user", "Weather in Oslo?")
    manager.add_message_to_conversation(
        doc,
        "assistant",
        None,
        tool_calls=[
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    )
    manager.add_message_to_conversation(
        doc, "tool", '{"c": 3}', tool_call_id="call_1", name="weather"
    )
    manager.save_conversation(doc)

    messages = manager.load_conversation(doc.id, "alice").to_document()["messages"]

    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city": "Oslo"}',
    }
    assert messages[1]["content"] is None
    assert (messages[2]["tool_call_id"], messages[2]["name"]) == ("call_1", "weather")


def test_recent_conversations_are_newest_first_and_paged(manager: ConversationManager) -> None:
    ids = [_saved_chat(manager) for _ in range(7)]
    _saved_chat(manager, customer="bob")
    manager.append_message(ids[2], "alice", "user", "bump")  # now the most recent

    seen: list[str] = []
    continuation = None
    pages = 0
    while True:
        page = manager.get_recent_conversations("alice", limit=3, continuation=continuation)
        seen += [c.id for c in page.items]
        pages += 1
        continuation = page.continuation
        if continuation is None:
            break

    assert seen == [ids[2], *reversed([i for i in ids if i != ids[2]])]
    assert pages == 3
    first = manager.get_recent_conversations("alice", limit=1).items[0]
    bump = count_tokens("bump")
    assert (first.title, first.message_count, first.total_tokens) == ("Trip to Tokyo", 3, 8 + bump)
    assert not hasattr(first, "messages")


def test_listing_an_unknown_customer_is_empty(manager: ConversationManager) -> None:
    page = manager.get_recent_conversations("nobody")
    assert (page.items, page.continuation) == ([], None)


def test_delete_removes_and_is_idempotent(manager: ConversationManager) -> None:
    conversation_id = _saved_chat(manager)
    manager.delete_conversation(conversation_id, "alice")
    manager.delete_conversation(conversation_id, "alice")

    with pytest.raises(ConversationNotFoundError):
        manager.load_conversation(conversation_id, "alice")
    assert manager.get_recent_conversations("alice").items == []


@pytest.mark.capability("editing")
def test_rename_and_clear_keep_the_record(manager: ConversationManager) -> None:
    conversation_id = _saved_chat(manager, turns=2)
    manager.rename_conversation(conversation_id, "alice", "Kyoto instead")
    manager.clear_conversation(conversation_id, "alice")

    loaded = manager.load_conversation(conversation_id, "alice")
    assert (loaded.title, loaded.messages, loaded.message_count, loaded.total_tokens) == (
        "Kyoto instead",
        [],
        0,
        0,
    )
    manager.append_message(conversation_id, "alice", "user", "fresh start")
    assert [m.content for m in manager.load_conversation(conversation_id, "alice").messages] == [
        "fresh start"
    ]


def test_header_changes_of_two_writers_both_survive(manager: ConversationManager) -> None:
    conversation_id = _saved_chat(manager)
    tab_a = manager.load_conversation(conversation_id, "alice")
    tab_b = manager.load_conversation(conversation_id, "alice")
    tab_a.title = "Renamed in tab A"
    tab_b.metadata["pinned"] = True
    manager.save_conversation(tab_a)
    manager.save_conversation(tab_b)

    loaded = manager.load_conversation(conversation_id, "alice")
    assert (loaded.title, loaded.metadata) == ("Renamed in tab A", {"pinned": True})


def test_update_with_a_stale_etag_is_a_conflict(
    manager: ConversationManager, store: ConversationStore
) -> None:
    conversation_id = _saved_chat(manager)
    stale = manager.load_conversation(conversation_id, "alice").etag
    manager.rename_conversation(conversation_id, "alice", "first")

    with pytest.raises(ConflictError):
        store.update_conversation(
            ConversationKey("alice", conversation_id),
            HeaderUpdate(fields={"title": "second"}),
            etag=stale,
        )
    assert manager.load_conversation(conversation_id, "alice").title == "first"


def test_history_windows(manager: ConversationManager) -> None:
    doc = manager.create_conversation_document("alice", "s1")
    manager.add_message_to_conversation(doc, "system", "Be brief.", tokens=3)
    for n in range(60):
        manager.add_message_to_conversation(doc, "user", f"q{n}", tokens=10)
        manager.add_message_to_conversation(doc, "assistant", f"a{n}", tokens=10)
    manager.save_conversation(doc)

    by_messages = manager.get_history(doc.id, "alice", max_messages=5)
    by_turns = manager.get_history(doc.id, "alice", max_turns=2)
    by_tokens = manager.get_history(doc.id, "alice", max_tokens=3 + 4 + 14 * 70)

    assert [m.content for m in by_messages] == ["Be brief.", "q58", "a58", "q59", "a59"]
    assert [m.content for m in by_turns] == ["Be brief.", "q58", "a58", "q59", "a59"]
    assert by_tokens[0].content == "Be brief." and len(by_tokens) == 71
    assert len(manager.get_history(doc.id, "alice")) == 121


def test_data_survives_reopening_the_store(
    store_factory: object, request: pytest.FixtureRequest
) -> None:
    if "memory" in request.node.callspec.id:
        pytest.skip("the memory store keeps nothing across processes by design")
    assert callable(store_factory)
    with ConversationManager(store_factory(), owns_store=True) as first:
        conversation_id = _saved_chat(first, turns=2)
    with ConversationManager(store_factory(), owns_store=True) as second:
        assert second.load_conversation(conversation_id, "alice").message_count == 4


def test_closed_store_raises(store_factory: object) -> None:
    assert callable(store_factory)
    manager = ConversationManager(store_factory(), owns_store=True)
    manager.close()
    with pytest.raises(StoreClosedError):
        manager.get_recent_conversations("alice")
