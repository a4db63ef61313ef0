"""transfer.transfer over in-memory stores: what it copies, and that re-runs resume it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cli_support import seed_plain_conversation, seed_rich_conversation

from conversation_store import (
    Conversation,
    ConversationKey,
    ConversationManager,
    MemoryStore,
    Message,
    StoreUnavailableError,
)
from conversation_store.transfer import Outcome, TransferReport, transfer


def documents(store: MemoryStore) -> dict[str, dict[str, Any]]:
    return {
        s.id: store.get_conversation(ConversationKey(s.customer_id, s.id)).to_document()
        for s in store.scan_conversations()
    }


def counts(report: TransferReport) -> tuple[int, int, int, int, int]:
    return report.created, report.updated, report.unchanged, report.skipped, report.failed


@pytest.fixture
def source() -> MemoryStore:
    store = MemoryStore()
    manager = ConversationManager(store)
    seed_rich_conversation(manager, "alice")
    seed_plain_conversation(manager, "alice", ["one", "two"])
    seed_plain_conversation(manager, "bob", ["three"])
    return store


def test_copies_every_conversation_whole_with_its_header(source: MemoryStore) -> None:
    target = MemoryStore()
    report = transfer(source, ConversationManager(target))
    assert counts(report) == (3, 0, 0, 0, 0)
    assert report.succeeded
    assert documents(target) == documents(source)
    rich = next(d for d in documents(target).values() if d["title"] == "Trip to Tokyo")
    assert (rich["archived"], rich["ttl"], rich["summary"]) == (
        True,
        90 * 86400,
        "weather in Tokyo",
    )


def test_a_second_run_changes_nothing(source: MemoryStore) -> None:
    target = MemoryStore()
    transfer(source, ConversationManager(target))
    before = documents(target)
    assert counts(transfer(source, ConversationManager(target))) == (0, 0, 3, 0, 0)
    assert documents(target) == before


def test_a_re_run_copies_only_what_is_new(source: MemoryStore) -> None:
    target = MemoryStore()
    transfer(source, ConversationManager(target))
    manager = ConversationManager(source)
    bob = next(s for s in source.scan_conversations(customer_id="bob"))
    manager.append_message(bob.id, "bob", "user", "one more")
    seed_plain_conversation(manager, "carol", ["new"])

    report = transfer(source, ConversationManager(target))

    assert counts(report) == (1, 1, 2, 0, 0)
    copied = documents(target)
    assert [m["content"] for m in copied[bob.id]["messages"]] == ["three", "one more"]
    assert len(copied) == 4


def test_an_interrupted_run_finishes_when_run_again(source: MemoryStore) -> None:
    target = MemoryStore()
    seen: list[Outcome] = []

    def stop_after_first(outcome: Outcome) -> None:
        seen.append(outcome)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transfer(source, ConversationManager(target), on_progress=stop_after_first)
    assert seen == ["created"]

    report = transfer(source, ConversationManager(target))
    assert counts(report) == (2, 0, 1, 0, 0)
    assert documents(target) == documents(source)


def test_a_conflicting_conversation_fails_alone(source: MemoryStore) -> None:
    target = MemoryStore()
    bob = source.get_conversation(
        ConversationKey("bob", next(source.scan_conversations(customer_id="bob")).id)
    )
    clash = bob.model_copy(deep=True)
    clash.messages = [Message(id=bob.messages[0].id, role="assistant", content="something else")]
    target.create_conversation(clash)

    report = transfer(source, ConversationManager(target))

    assert counts(report) == (2, 0, 0, 0, 1)
    assert not report.succeeded
    assert [(f.customer_id, f.conversation_id) for f in report.failures] == [("bob", bob.id)]
    assert "has role 'user' in the source but 'assistant' in the target" in report.failures[0].error
    stored = target.get_conversation(ConversationKey("bob", bob.id))
    assert [m.content for m in stored.messages] == ["something else"]


def test_an_edit_made_later_in_the_target_is_kept(source: MemoryStore) -> None:
    target = ConversationManager(MemoryStore())
    transfer(source, target)
    bob_id = next(source.scan_conversations(customer_id="bob")).id
    message_id = str(source.get_conversation(ConversationKey("bob", bob_id)).messages[0].id)
    ConversationManager(source).edit_message(bob_id, "bob", message_id, "edited in the source")
    target.edit_message(bob_id, "bob", message_id, "edited in the target, later")

    assert counts(transfer(source, target)) == (0, 0, 3, 0, 0)
    assert target.load_conversation(bob_id, "bob").messages[0].content == (
        "edited in the target, later"
    )


def test_progress_hears_the_total_then_each_outcome(source: MemoryStore) -> None:
    totals: list[int] = []
    outcomes: list[Outcome] = []
    transfer(
        source,
        ConversationManager(MemoryStore()),
        customer_id="alice",
        on_start=totals.append,
        on_progress=outcomes.append,
    )
    assert totals == [2]
    assert outcomes == ["created", "created"]


def test_an_expired_conversation_is_skipped() -> None:
    source = MemoryStore()
    manager = ConversationManager(source)
    old = manager.create_conversation_document("alice", "s")
    manager.add_message_to_conversation(old, "user", "bye")
    old.ttl = 1
    old.updated_at = datetime(2020, 1, 1, tzinfo=UTC)
    source.create_conversation(old)  # listed by the scan, but gone for every read

    report = transfer(source, ConversationManager(MemoryStore()))

    assert counts(report) == (0, 0, 0, 1, 0)
    assert report.succeeded


class FlakyStore(MemoryStore):
    """A source that becomes unavailable after `reads_left` more reads, as a lost network
    does; None keeps it healthy."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_left: int | None = None

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        if self.reads_left is not None:
            if self.reads_left == 0:
                raise StoreUnavailableError("network is down")
            self.reads_left -= 1
        return super().get_conversation(key, last=last)


def test_an_unavailable_store_stops_the_run_and_says_why() -> None:
    source = FlakyStore()
    manager = ConversationManager(source)
    for text in ("a", "b", "c"):
        seed_plain_conversation(manager, "alice", [text])
    source.reads_left = 1

    report = transfer(source, ConversationManager(MemoryStore()))

    assert counts(report) == (1, 0, 0, 0, 0)
    assert report.stopped_by == "StoreUnavailableError: network is down"
    assert not report.succeeded
