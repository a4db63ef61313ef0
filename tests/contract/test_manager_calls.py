"""The manager calls added with the capability protocol, on every backend, and what the
manager does over a store that declares only the core protocol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from conversation_store import (
    AppendResult,
    ConflictError,
    Conversation,
    ConversationKey,
    ConversationManager,
    ConversationSummary,
    HeaderUpdate,
    InvalidInputError,
    ListFilter,
    MemoryStore,
    Message,
    Page,
    ToolCall,
    UnsupportedOperationError,
)
from conversation_store.aio import ConversationManager as AsyncConversationManager
from conversation_store.aio import MemoryStore as AsyncMemoryStore
from conversation_store.models import NO_FILTER


def _chat(manager: ConversationManager, texts: Sequence[str]) -> str:
    conversation = manager.create_conversation_document("alice", "s")
    for n, text in enumerate(texts):
        manager.add_message_to_conversation(
            conversation, "user" if n % 2 == 0 else "assistant", text
        )
    manager.save_conversation(conversation)
    return conversation.id


def _built_messages() -> list[Message]:
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    call = ToolCall.model_validate(
        {"id": "call_1", "function": {"name": "lookup", "arguments": '{"q": "tokyo"}'}}
    )
    return [
        Message(id="m_built_1", role="assistant", content=None, timestamp=when, tool_calls=[call]),
        Message(
            id="m_built_2",
            role="tool",
            content="sunny",
            timestamp=when,
            tool_call_id="call_1",
            name="lookup",
            tokens=3,
        ),
    ]


def test_load_conversation_last_reads_the_newest_messages_with_the_etag(
    manager: ConversationManager,
) -> None:
    conversation_id = _chat(manager, ["one", "two", "three", "four"])

    recent = manager.load_conversation(conversation_id, "alice", last=2)

    assert [m.content for m in recent.messages] == ["three", "four"]
    assert recent.message_count == 4
    assert recent.etag is not None
    with pytest.raises(InvalidInputError):
        manager.load_conversation(conversation_id, "alice", last=0)


def test_append_messages_stores_built_messages_exactly_and_once(
    manager: ConversationManager,
) -> None:
    conversation_id = _chat(manager, ["what is the weather?"])
    built = _built_messages()

    result = manager.append_messages(conversation_id, "alice", built)
    again = manager.append_messages(conversation_id, "alice", built)  # a retry

    assert result.message_ids == again.message_ids == ["m_built_1", "m_built_2"]
    stored = manager.load_conversation(conversation_id, "alice").messages[1:]
    assert [m.model_dump(mode="json") for m in stored] == [m.model_dump(mode="json") for m in built]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [Message(role="user", content="no id")],
        [Message(id="m_1", role="user", content="   ")],
        [Message(id="m_1", role="user", content="a"), Message(id="m_1", role="user", content="b")],
    ],
    ids=["empty", "no-id", "blank", "repeated-id"],
)
def test_append_messages_refuses_bad_messages(
    manager: ConversationManager, messages: list[Message]
) -> None:
    conversation_id = _chat(manager, ["hello"])
    with pytest.raises(InvalidInputError):
        manager.append_messages(conversation_id, "alice", messages)
    assert manager.load_conversation(conversation_id, "alice").message_count == 1


def test_rename_with_an_etag_is_a_conflict_once_the_conversation_moved_on(
    manager: ConversationManager,
) -> None:
    conversation_id = _chat(manager, ["hello"])
    loaded = manager.load_conversation(conversation_id, "alice")

    manager.append_message(conversation_id, "alice", "assistant", "hi")
    with pytest.raises(ConflictError):
        manager.rename_conversation(conversation_id, "alice", "late", etag=loaded.etag)
    fresh = manager.load_conversation(conversation_id, "alice")
    manager.rename_conversation(conversation_id, "alice", "on time", etag=fresh.etag)

    assert manager.load_conversation(conversation_id, "alice").title == "on time"


def test_update_metadata_changes_only_the_named_keys(manager: ConversationManager) -> None:
    conversation = manager.create_conversation_document(
        "alice", "s", metadata={"keep": 1, "drop": 2}
    )
    manager.add_message_to_conversation(conversation, "user", "hello")
    manager.save_conversation(conversation)

    manager.update_metadata(conversation.id, "alice", {"added": [1, 2]}, remove=["drop"])

    stored = manager.load_conversation(conversation.id, "alice")
    assert stored.metadata == {"keep": 1, "added": [1, 2]}
    with pytest.raises(InvalidInputError):
        manager.update_metadata(conversation.id, "alice", {}, remove="drop")  # type: ignore[arg-type]


async def test_the_async_manager_has_the_new_calls() -> None:
    async with AsyncConversationManager(AsyncMemoryStore(), owns_store=True) as manager:
        conversation = manager.create_conversation_document("alice", "s")
        manager.add_message_to_conversation(conversation, "user", "hello")
        await manager.save_conversation(conversation)
        await manager.append_messages(conversation.id, "alice", _built_messages())
        await manager.update_metadata(conversation.id, "alice", {"k": "v"})
        loaded = await manager.load_conversation(conversation.id, "alice", last=1)
        await manager.rename_conversation(conversation.id, "alice", "t", etag=loaded.etag)

        assert [m.id for m in loaded.messages] == ["m_built_2"]
        assert (await manager.load_conversation(conversation.id, "alice")).title == "t"


class CoreOnlyStore:
    """A fake at our own protocol: the core `ConversationStore` and no capability."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        return self._inner.create_conversation(conversation)

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        return self._inner.get_conversation(key, last=last)

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        return self._inner.append_messages(key, messages)

    def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        self._inner.update_conversation(key, update, etag=etag)

    def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        return self._inner.list_conversations(
            customer_id, limit=limit, continuation=continuation, archived=archived, where=where
        )

    def delete_conversation(self, key: ConversationKey) -> None:
        self._inner.delete_conversation(key)

    def close(self) -> None:
        self._inner.close()


def test_a_core_only_store_serves_the_core_and_refuses_each_capability() -> None:
    manager = ConversationManager(CoreOnlyStore())  # type: ignore[arg-type]
    conversation_id = _chat(manager, ["hello", "hi"])
    message_id = str(manager.load_conversation(conversation_id, "alice").messages[0].id)

    refused = {
        "search": lambda: manager.search_conversations("alice", "hello"),
        "editing": lambda: manager.edit_message(conversation_id, "alice", message_id, "x"),
        "erasure": lambda: manager.delete_customer_data("alice"),
        "scans": lambda: manager.get_stats("alice"),
    }
    for capability, call in refused.items():
        with pytest.raises(UnsupportedOperationError, match=capability):
            call()
    with pytest.raises(UnsupportedOperationError, match="scans"):
        manager.cleanup_old_conversations(30)
    with pytest.raises(UnsupportedOperationError, match="editing"):
        manager.clear_conversation(conversation_id, "alice")
    assert manager.get_recent_conversations("alice").items[0].message_count == 2
