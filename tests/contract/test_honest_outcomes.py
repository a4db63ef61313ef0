"""Issue 13 contract: after a lost response, every manager call reports what happened.

`LandedThenLost` wraps a real store: the named call does its work, then raises what a retry of
that call would see (the store's own retry finds its first attempt's write), as on Cosmos DB
when the response of the write that landed was lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from conversation_store import (
    ConflictError,
    ConversationManager,
    ConversationNotFoundError,
    ConversationStore,
)


class LandedThenLost:
    """`store`, except that the first call of `method` does its work, then raises `error`."""

    def __init__(self, store: ConversationStore, method: str, error: Exception) -> None:
        self._store = store
        self._method = method
        self._error: Exception | None = error

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name != self._method:
            return attribute

        def landed_then_lost(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            error, self._error = self._error, None
            if error is not None:
                raise error
            return result

        return landed_then_lost


class TakenId:
    """`store`, except that every create is refused as if another item held the id."""

    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name != "create_conversation":
            return getattr(self._store, name)

        def refused(*args: Any, **kwargs: Any) -> Any:
            raise ConflictError("the id is taken")

        return refused


def _chat(manager: ConversationManager) -> tuple[str, list[str]]:
    doc = manager.create_conversation_document("alice", "s1", title="Chat")
    ids = [
        manager.add_message_to_conversation(doc, role, content).id or ""
        for role, content in [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    ]
    manager.save_conversation(doc)
    return doc.id, ids


def _ids(manager: ConversationManager) -> list[str]:
    return sorted(c.id for c in manager.get_recent_conversations("alice", archived=None).items)


def test_a_fork_whose_create_landed_is_returned_not_made_twice(store: ConversationStore) -> None:
    conversation_id, message_ids = _chat(ConversationManager(store))
    lossy = ConversationManager(
        LandedThenLost(store, "create_conversation", ConflictError("exists"))  # type: ignore[arg-type]
    )

    fork = lossy.fork_conversation(conversation_id, "alice", message_ids[1])

    manager = ConversationManager(store)
    assert _ids(manager) == sorted([conversation_id, fork.id])
    stored = manager.load_conversation(fork.id, "alice")
    assert [m.id for m in stored.messages] == message_ids[:2] == [m.id for m in fork.messages]
    assert stored.metadata["forked_from"] == {
        "conversation_id": conversation_id,
        "message_id": message_ids[1],
    }


def test_a_fork_conflicting_with_an_item_that_is_not_it_is_a_conflict(
    store: ConversationStore,
) -> None:
    conversation_id, message_ids = _chat(ConversationManager(store))
    refusing = ConversationManager(TakenId(store))  # type: ignore[arg-type]

    with pytest.raises(ConflictError):
        refusing.fork_conversation(conversation_id, "alice", message_ids[0])
    assert _ids(ConversationManager(store)) == [conversation_id]


@pytest.mark.capability("editing")
def test_a_clear_whose_write_landed_returns_success(store: ConversationStore) -> None:
    conversation_id, _ = _chat(ConversationManager(store))
    lossy = ConversationManager(
        LandedThenLost(  # type: ignore[arg-type]
            store, "clear_messages", ConversationNotFoundError(conversation_id, "alice")
        )
    )

    lossy.clear_conversation(conversation_id, "alice")

    cleared = ConversationManager(store).load_conversation(conversation_id, "alice")
    assert (cleared.messages, cleared.message_count, cleared.title) == ([], 0, "Chat")


@pytest.mark.capability("editing")
def test_clearing_a_conversation_that_is_gone_is_still_not_found(
    manager: ConversationManager,
) -> None:
    conversation_id, _ = _chat(manager)
    manager.delete_conversation(conversation_id, "alice")

    with pytest.raises(ConversationNotFoundError):
        manager.clear_conversation(conversation_id, "alice")
    with pytest.raises(ConversationNotFoundError):
        manager.clear_conversation(conversation_id, "mallory")
