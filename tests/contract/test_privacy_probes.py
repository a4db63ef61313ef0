"""Issue 14, probed as an attacker would: a share link must stop opening once its conversation is
gone, however it went (deleted, expired, cleaned up, moved), and must not come back with a copy
of the conversation stored again under the same id."""

from __future__ import annotations

import time

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    ShareLinkNotFoundError,
)

pytestmark = pytest.mark.capability("share_links")

CUSTOMER = "customer-bob-3"
OTHER = "customer-carol-4"


def _shared(manager: ConversationManager) -> tuple[str, str, str]:
    """A stored conversation, a link to it, and its export taken while it was shared."""
    doc = manager.create_conversation_document(CUSTOMER, "s1", title="Shared")
    manager.add_message_to_conversation(doc, "user", "private question")
    manager.save_conversation(doc)
    token = manager.share_conversation(doc.id, CUSTOMER)
    return doc.id, token, manager.export_conversation(doc.id, CUSTOMER)


def _wait_until_expired(manager: ConversationManager, conversation_id: str) -> None:
    """Until the conversation reads as gone (its 1 s TTL has one-second resolution)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            manager.load_conversation(conversation_id, CUSTOMER)
        except ConversationNotFoundError:
            return
        time.sleep(0.1)
    raise AssertionError(f"{conversation_id} never expired")


def _closed(manager: ConversationManager, token: str) -> bool:
    try:
        manager.open_shared_conversation(token)
    except ShareLinkNotFoundError:
        return True
    return False


def test_a_link_to_an_expired_conversation_opens_nothing(manager: ConversationManager) -> None:
    conversation_id, token, _ = _shared(manager)
    manager.set_conversation_ttl(conversation_id, CUSTOMER, 1)
    _wait_until_expired(manager, conversation_id)

    assert _closed(manager, token)


def test_a_deleted_conversation_imported_again_does_not_reopen_its_link(
    manager: ConversationManager,
) -> None:
    conversation_id, token, export = _shared(manager)
    manager.delete_conversation(conversation_id, CUSTOMER)

    manager.import_conversations(export)

    assert manager.load_conversation(conversation_id, CUSTOMER).messages
    assert _closed(manager, token)


@pytest.mark.capability("scans")
def test_a_cleaned_up_conversation_imported_again_does_not_reopen_its_link(
    manager: ConversationManager,
) -> None:
    conversation_id, token, export = _shared(manager)
    assert manager.cleanup_old_conversations(0, customer_id=CUSTOMER) == 1

    manager.import_conversations(export)

    assert manager.load_conversation(conversation_id, CUSTOMER).messages
    assert _closed(manager, token)


def test_an_expired_conversation_imported_again_does_not_reopen_its_link(
    manager: ConversationManager,
) -> None:
    conversation_id, token, export = _shared(manager)
    manager.set_conversation_ttl(conversation_id, CUSTOMER, 1)
    _wait_until_expired(manager, conversation_id)
    assert _closed(manager, token)

    manager.import_conversations(export)

    assert manager.load_conversation(conversation_id, CUSTOMER).messages
    assert _closed(manager, token)


def test_a_moved_conversation_and_its_copy_moved_back_keep_the_link_closed(
    manager: ConversationManager,
) -> None:
    conversation_id, token, _ = _shared(manager)

    assert manager.move_customer_data(CUSTOMER, OTHER) == 1
    assert _closed(manager, token)
    assert manager.move_customer_data(OTHER, CUSTOMER) == 1

    assert manager.load_conversation(conversation_id, CUSTOMER).share_id is None
    assert _closed(manager, token)
