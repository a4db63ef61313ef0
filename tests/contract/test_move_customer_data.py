"""Issue 14 contract: `move_customer_data` moves a customer's history whole to another customer,
once, and finishes when retried after a crash at any point."""

from __future__ import annotations

from typing import Any

import pytest

from conversation_store import (
    ConversationManager,
    ConversationStore,
    InvalidInputError,
    ShareLinkNotFoundError,
    StoreUnavailableError,
)

OLD, NEW = "anon_0123456789abcdef0123456789abcdef", "anon_fedcba9876543210fedcba9876543210"


class CrashesOnce:
    """`store`, except that the first call of `method` fails before doing anything, as a
    process killed at that point would."""

    def __init__(self, store: ConversationStore, method: str) -> None:
        self._store = store
        self._method = method
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name != self._method or self.crashed:
            return attribute

        def crash(*args: Any, **kwargs: Any) -> Any:
            self.crashed = True
            raise StoreUnavailableError("killed here")

        return crash


def _history(manager: ConversationManager, customer: str = OLD) -> list[str]:
    ids = []
    for n in range(3):
        doc = manager.create_conversation_document(
            customer, "s1", title=f"Chat {n}", metadata={"n": n, "tags": ["a", "b"]}
        )
        for turn in range(n + 1):
            manager.add_message_to_conversation(doc, "user", f"q{n}.{turn}", tokens=3)
            manager.add_message_to_conversation(doc, "assistant", f"a{n}.{turn}", tokens=4)
        manager.save_conversation(doc)
        ids.append(doc.id)
    manager.archive_conversation(ids[0], customer)
    return ids


def _documents(manager: ConversationManager, customer: str) -> dict[str, dict[str, Any]]:
    """Each conversation of `customer` as stored, without what a move may change."""
    listed = manager.get_recent_conversations(customer, archived=None).items
    return {
        c.id: {
            k: v
            for k, v in manager.load_conversation(c.id, customer).to_document().items()
            if k not in ("customer_id", "updated_at", "created_at", "share_id")
        }
        for c in listed
    }


def test_moving_copies_every_conversation_whole_then_deletes_it(
    manager: ConversationManager,
) -> None:
    ids = _history(manager)
    before = _documents(manager, OLD)

    assert manager.move_customer_data(OLD, NEW) == 3

    assert _documents(manager, OLD) == {}
    assert _documents(manager, NEW) == before
    assert sorted(before) == sorted(ids)
    assert manager.load_conversation(ids[0], NEW).archived is True
    assert manager.move_customer_data(OLD, NEW) == 0


@pytest.mark.parametrize("crash_at", ["create_conversation", "delete_conversation"])
def test_a_move_retried_after_a_crash_finishes_without_duplicates(
    store: ConversationStore, crash_at: str
) -> None:
    manager = ConversationManager(store)
    _history(manager)
    before = _documents(manager, OLD)
    crashing = CrashesOnce(store, crash_at)

    with pytest.raises(StoreUnavailableError):
        ConversationManager(crashing).move_customer_data(OLD, NEW)  # type: ignore[arg-type]

    assert crashing.crashed
    assert manager.move_customer_data(OLD, NEW) == 3
    assert _documents(manager, OLD) == {}
    assert _documents(manager, NEW) == before


def test_a_moved_conversation_is_no_longer_shared(manager: ConversationManager) -> None:
    ids = _history(manager)
    token = manager.share_conversation(ids[1], OLD)

    manager.move_customer_data(OLD, NEW)

    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(token)
    assert manager.load_conversation(ids[1], NEW).share_id is None


@pytest.mark.parametrize(
    ("source", "target", "field"),
    [
        (OLD, OLD, "must differ"),
        ("", NEW, "from_customer_id"),
        (OLD, "a/b", "to_customer_id"),
        ("_share:abc", NEW, "from_customer_id"),
        (OLD, "\ud800", "to_customer_id"),
        (None, NEW, "from_customer_id"),
    ],
)
def test_bad_customer_ids_are_refused_and_move_nothing(
    manager: ConversationManager, source: Any, target: Any, field: str
) -> None:
    _history(manager)
    before = _documents(manager, OLD)

    with pytest.raises(InvalidInputError, match=field):
        manager.move_customer_data(source, target)
    assert _documents(manager, OLD) == before
