"""Issue 6 contract, conversation lifecycle: archive, TTL, cleanup, erasure, stats,
export and import. Every backend must pass each test unchanged."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conversation_store import (
    ConflictError,
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    SQLiteStore,
)
from conversation_store.export import parse_import
from conversation_store.transfer import transfer


def _chat(manager: ConversationManager, customer: str, *contents: str, title: str = "Chat") -> str:
    doc = manager.create_conversation_document(customer, "s1", title=title)
    for n, content in enumerate(contents):
        manager.add_message_to_conversation(doc, "user" if n % 2 == 0 else "assistant", content)
    manager.save_conversation(doc)
    return doc.id


def _listed(manager: ConversationManager, customer: str, archived: bool | None = False) -> set[str]:
    return {s.id for s in manager.get_recent_conversations(customer, archived=archived).items}


def _old_document(customer: str, conversation_id: str, updated_at: str) -> dict[str, object]:
    return {
        "id": conversation_id,
        "customer_id": customer,
        "created_at": updated_at,
        "updated_at": updated_at,
        "messages": [{"role": "user", "content": "an old question", "timestamp": updated_at}],
    }


@pytest.mark.capability("search")
def test_archived_conversations_leave_the_default_listing_and_come_back(
    manager: ConversationManager,
) -> None:
    kept = _chat(manager, "alice", "keep me")
    archived = _chat(manager, "alice", "archive me")

    manager.archive_conversation(archived, "alice")

    assert _listed(manager, "alice") == {kept}
    assert _listed(manager, "alice", archived=True) == {archived}
    assert _listed(manager, "alice", archived=None) == {kept, archived}
    assert manager.load_conversation(archived, "alice").archived is True
    assert [h.conversation_id for h in manager.search_conversations("alice", "archive")] == [
        archived
    ]
    manager.archive_conversation(archived, "alice", archived=False)
    assert _listed(manager, "alice") == {kept, archived}
    with pytest.raises(ConversationNotFoundError):
        manager.archive_conversation(archived, "mallory")


@pytest.mark.capability("search", "scans")
def test_an_expired_conversation_is_gone_everywhere_and_cleanup_removes_it(
    manager: ConversationManager,
) -> None:
    expiring = _chat(manager, "alice", "expiring words")
    kept = _chat(manager, "alice", "lasting words")
    manager.set_conversation_ttl(expiring, "alice", 1)
    manager.set_conversation_ttl(kept, "alice", 3600)
    assert manager.load_conversation(kept, "alice").ttl == 3600

    time.sleep(2.2)  # TTL has one-second resolution

    with pytest.raises(ConversationNotFoundError):
        manager.load_conversation(expiring, "alice")
    with pytest.raises(ConversationNotFoundError):
        manager.append_message(expiring, "alice", "user", "too late")
    assert _listed(manager, "alice", archived=None) == {kept}
    assert manager.search_conversations("alice", "expiring") == []
    assert manager.get_stats("alice").conversations == 1
    assert manager.cleanup_old_conversations(365) == 1
    assert manager.cleanup_old_conversations(365) == 0
    assert manager.load_conversation(kept, "alice").message_count == 1


def test_ttl_can_be_removed_and_bad_ttls_are_refused(manager: ConversationManager) -> None:
    conversation_id = _chat(manager, "alice", "hello")
    manager.set_conversation_ttl(conversation_id, "alice", 60)

    manager.set_conversation_ttl(conversation_id, "alice", None)

    loaded = manager.load_conversation(conversation_id, "alice")
    assert loaded.ttl is None
    assert "ttl" not in loaded.to_document()
    for bad in (0, -5, 1.5, "60", True, 2**31):
        with pytest.raises(InvalidInputError):
            manager.set_conversation_ttl(conversation_id, "alice", bad)  # type: ignore[arg-type]


@pytest.mark.capability("scans")
def test_cleanup_deletes_conversations_idle_for_longer_than_the_cutoff(
    manager: ConversationManager,
) -> None:
    manager.import_conversations(_old_document("alice", "c_old_alice", "2020-01-01T00:00:00Z"))
    manager.import_conversations(_old_document("bob", "c_old_bob", "2020-01-01T00:00:00Z"))
    recent = _chat(manager, "alice", "recent")

    assert manager.cleanup_old_conversations(30, customer_id="alice") == 1
    assert _listed(manager, "alice") == {recent}
    assert _listed(manager, "bob") == {"c_old_bob"}
    assert manager.cleanup_old_conversations(30) == 1
    assert _listed(manager, "bob") == set()
    for bad in (-1, float("inf"), float("nan"), 10**9, "30", True):
        with pytest.raises(InvalidInputError):
            manager.cleanup_old_conversations(bad)  # type: ignore[arg-type]


@pytest.mark.capability("search", "erasure", "scans")
def test_deleting_a_customer_removes_all_their_data_and_nothing_else(
    manager: ConversationManager,
) -> None:
    for n in range(3):
        _chat(manager, "alice", f"alice {n}")
    archived = _chat(manager, "alice", "archived one")
    manager.archive_conversation(archived, "alice")
    bobs = _chat(manager, "bob", "bob's")

    assert manager.delete_customer_data("alice") == 4

    assert _listed(manager, "alice", archived=None) == set()
    assert manager.search_conversations("alice", "alice") == []
    assert manager.get_stats("alice").conversations == 0
    assert _listed(manager, "bob") == {bobs}
    assert manager.delete_customer_data("alice") == 0


@pytest.mark.capability("scans")
def test_stats_per_customer_and_overall(manager: ConversationManager) -> None:
    long_one = _chat(manager, "alice", "a", "b", "c", "d")
    _chat(manager, "alice", "e", "f")
    _chat(manager, "bob", "g")

    alice = manager.get_stats("alice")
    overall = manager.get_stats()

    assert (alice.conversations, alice.messages) == (2, 6)
    assert alice.average_messages == 3.0
    assert alice.longest_conversation_id == long_one
    assert alice.longest_conversation_messages == 4
    assert alice.tokens == sum(
        manager.load_conversation(s.id, "alice").total_tokens
        for s in manager.get_recent_conversations("alice").items
    )
    assert sum(alice.messages_per_day.values()) == 6
    assert (overall.conversations, overall.messages) == (3, 7)
    assert [
        (c.customer_id, c.conversations, c.messages) for c in overall.most_active_customers
    ] == [
        ("alice", 2, 6),
        ("bob", 1, 1),
    ]
    assert sum(overall.messages_per_day.values()) == 7


def test_json_export_round_trips_losslessly_through_import(manager: ConversationManager) -> None:
    doc = manager.create_conversation_document(
        "alice", "s1", title="Trip", persona="guide", metadata={"platform": "web"}
    )
    manager.add_message_to_conversation(doc, "user", "Weather?", metadata={"lang": "en"})
    manager.add_message_to_conversation(
        doc,
        "assistant",
        None,
        tool_calls=[{"id": "c1", "function": {"name": "weather", "arguments": "{}"}}],
    )
    manager.add_message_to_conversation(doc, "tool", "sunny", tool_call_id="c1")
    manager.save_conversation(doc)
    original = manager.load_conversation(doc.id, "alice").to_document()

    exported = manager.export_conversation(doc.id, "alice")
    manager.delete_conversation(doc.id, "alice")
    report = manager.import_conversations(exported, customer_id="alice")
    restored = manager.load_conversation(doc.id, "alice").to_document()

    assert report.created == [doc.id]
    for volatile in ("updated_at",):  # the import is itself a write
        original.pop(volatile)
        restored.pop(volatile)
    assert restored == original
    assert manager.import_conversations(exported).unchanged == [doc.id]


def test_markdown_export_of_a_customer_holds_every_conversation(
    manager: ConversationManager,
) -> None:
    _chat(manager, "alice", "first question", title="First")
    _chat(manager, "alice", "second question", title="Second")
    _chat(manager, "bob", "bob question", title="Bob's")

    markdown = manager.export_customer("alice", "markdown")
    bundle = parse_import(manager.export_customer("alice"))

    assert "# First" in markdown and "# Second" in markdown
    assert "first question" in markdown and "bob question" not in markdown
    assert sorted(c.title or "" for c in bundle) == ["First", "Second"]
    with pytest.raises(InvalidInputError):
        manager.export_customer("alice", "pdf")  # type: ignore[arg-type]


def test_import_refuses_another_customers_documents_and_writes_nothing(
    manager: ConversationManager,
) -> None:
    mine = _old_document("alice", "c_mine", "2025-01-01T00:00:00Z")
    theirs = _old_document("bob", "c_theirs", "2025-01-01T00:00:00Z")

    with pytest.raises(InvalidInputError):
        manager.import_conversations([mine, theirs], customer_id="alice")

    assert _listed(manager, "alice", archived=None) == set()
    assert _listed(manager, "bob", archived=None) == set()


def test_import_merges_missing_messages_and_refuses_to_overwrite(
    manager: ConversationManager,
) -> None:
    conversation_id = _chat(manager, "alice", "one", "two")
    exported = json.loads(manager.export_conversation(conversation_id, "alice"))
    document = exported["conversations"][0]
    document["messages"].append(
        {"id": "m_extra", "role": "user", "content": "three", "timestamp": "2025-01-01T00:00:00Z"}
    )

    report = manager.import_conversations(exported)
    assert report.merged == [conversation_id]
    assert [m.content for m in manager.load_conversation(conversation_id, "alice").messages] == [
        "one",
        "two",
        "three",
    ]
    document["messages"][0]["content"] = "rewritten history"
    with pytest.raises(ConflictError):
        manager.import_conversations(exported)
    assert manager.load_conversation(conversation_id, "alice").messages[0].content == "one"


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[1, 2]",
        '{"id": "c_x", "messages": []}',
        '{"id": "bad/id", "customer_id": "alice"}',
        '{"format": "conversation-store/export", "version": 99, "conversations": []}',
        '{"id": "c_x", "customer_id": "alice", "messages": [{"role": "wizard", "content": "x"}]}',
    ],
)
def test_import_refuses_malformed_documents(manager: ConversationManager, data: str) -> None:
    with pytest.raises(InvalidInputError):
        manager.import_conversations(data)
    assert _listed(manager, "alice", archived=None) == set()


@pytest.mark.capability("editing")  # the source (memory) is what scans
def test_migrating_again_carries_the_sources_later_changes(
    manager: ConversationManager, tmp_path: Path
) -> None:
    """A migration into this backend, then changes in the source, then the catch-up run."""
    with ConversationManager(SQLiteStore(tmp_path / "source.db"), owns_store=True) as source:
        conversation_id = _chat(source, "alice", "hello", "hi", title="Before")
        source.set_conversation_ttl(conversation_id, "alice", 3600)
        assert transfer(source.store, manager).created == 1
        hello = source.load_conversation(conversation_id, "alice").messages[0].id
        assert hello is not None
        source.rename_conversation(conversation_id, "alice", "After")
        source.set_conversation_ttl(conversation_id, "alice", None)
        loaded = source.load_conversation(conversation_id, "alice")
        loaded.metadata["lang"] = "fr"
        source.save_conversation(loaded)
        source.edit_message(conversation_id, "alice", hello, "hello, edited")
        source.append_message(conversation_id, "alice", "user", "and more")

        report = transfer(source.store, manager)
        expected = source.load_conversation(conversation_id, "alice")

    assert (report.updated, report.failed) == (1, 0)
    copied = manager.load_conversation(conversation_id, "alice")
    assert (copied.title, copied.ttl, copied.metadata) == ("After", None, {"lang": "fr"})
    assert [m.model_dump() for m in copied.messages] == [m.model_dump() for m in expected.messages]
    assert (copied.message_count, copied.total_tokens) == (3, expected.total_tokens)
