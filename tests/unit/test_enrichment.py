"""Enricher: titles and summaries written off the request path, never over a user's title."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conversation_store import (
    Conversation,
    ConversationKey,
    ConversationManager,
    ConversationStore,
    Enricher,
    MemoryStore,
    Message,
    SQLiteStore,
    StoreUnavailableError,
)
from conversation_store.enrichment import (
    SUMMARY_COUNT_KEY,
    derive_title,
    extract_summary,
    shorten,
)

CUSTOMER = "u1"
WAIT = 10  # seconds; only a bound on waiting for the worker, never asserted on


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationStore]:
    opened: ConversationStore = (
        SQLiteStore(tmp_path / "enrich.db") if request.param == "sqlite" else MemoryStore()
    )
    yield opened
    opened.close()


@pytest.fixture
def manager(store: ConversationStore) -> ConversationManager:
    return ConversationManager(store)


def new_conversation(manager: ConversationManager, *contents: str) -> Conversation:
    """A stored conversation whose messages alternate user, assistant, user, …"""
    conversation = manager.create_conversation_document(CUSTOMER, "s")
    for number, content in enumerate(contents):
        role = "user" if number % 2 == 0 else "assistant"
        manager.add_message_to_conversation(conversation, role, content)
    return manager.save_conversation(conversation)


def append_exchanges(manager: ConversationManager, conversation_id: str, numbers: range) -> None:
    for number in numbers:
        manager.append_message(conversation_id, CUSTOMER, "user", f"Question {number}. More.")
        manager.append_message(conversation_id, CUSTOMER, "assistant", f"Answer {number}.")


def enrich(enricher: Enricher, conversation_id: str) -> Conversation:
    enricher.submit(conversation_id, CUSTOMER)
    assert enricher.wait_idle(WAIT)
    return enricher_manager(enricher).load_conversation(conversation_id, CUSTOMER)


def enricher_manager(enricher: Enricher) -> ConversationManager:
    return enricher._manager


def test_title_after_the_first_exchange_not_before(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "Plan a trip to Tokyo\nin spring, please")
    with Enricher(manager) as enricher:
        assert enrich(enricher, conversation.id).title is None
        manager.append_message(conversation.id, CUSTOMER, "assistant", "Gladly!")
        assert enrich(enricher, conversation.id).title == "Plan a trip to Tokyo"


def test_a_model_title_is_cleaned_up(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "hi", "hello")
    seen: list[list[str | None]] = []

    def model_title(messages: Sequence[Message]) -> str:
        seen.append([m.content for m in messages])
        return '"Friendly   greetings"\nsecond line'

    with Enricher(manager, title_writer=model_title) as enricher:
        assert enrich(enricher, conversation.id).title == "Friendly greetings"
    assert seen == [["hi", "hello"]]


def test_a_user_rename_during_the_job_wins(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "hi", "hello")

    def renaming_model(messages: Sequence[Message]) -> str:
        # The user renames it after the job loaded it and before the job writes.
        manager.rename_conversation(conversation.id, CUSTOMER, "My own title")
        return "Model title"

    with Enricher(manager, title_writer=renaming_model) as enricher:
        assert enrich(enricher, conversation.id).title == "My own title"


def test_another_write_during_the_job_does_not_stop_the_title(
    manager: ConversationManager,
) -> None:
    conversation = new_conversation(manager, "hi", "hello")

    def appending_model(messages: Sequence[Message]) -> str:
        manager.append_message(conversation.id, CUSTOMER, "user", "one more thing")
        return "Greetings"

    with Enricher(manager, title_writer=appending_model) as enricher:
        assert enrich(enricher, conversation.id).title == "Greetings"


def test_an_existing_title_is_never_replaced(manager: ConversationManager) -> None:
    conversation = manager.create_conversation_document(CUSTOMER, "s", title="Chosen")
    manager.add_message_to_conversation(conversation, "user", "hi")
    manager.add_message_to_conversation(conversation, "assistant", "hello")
    manager.save_conversation(conversation)
    with Enricher(manager, title_writer=lambda messages: "Model title") as enricher:
        assert enrich(enricher, conversation.id).title == "Chosen"


@pytest.mark.parametrize("answer", [RuntimeError("model down"), "   "])
def test_a_failing_or_blank_model_falls_back_to_the_rule(
    manager: ConversationManager, answer: Exception | str, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = new_conversation(manager, "Why is the sky blue?", "Rayleigh scattering.")

    def model(messages: Sequence[Message]) -> str:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with Enricher(manager, title_writer=model) as enricher:
        assert enrich(enricher, conversation.id).title == "Why is the sky blue?"
    if isinstance(answer, Exception):
        assert "title writer failed" in caplog.text


class FlakyStore:
    """Delegates to a real store; every read fails while `down` is set."""

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.down = False
        self.reads: list[str] = []

    def get_conversation(self, key: ConversationKey, **options: Any) -> Conversation:
        self.reads.append(key.conversation_id)
        if self.down:
            raise StoreUnavailableError("store unreachable")
        return self.inner.get_conversation(key, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_store_outage_is_logged_not_raised(
    store: ConversationStore, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FlakyStore(store)
    manager = ConversationManager(flaky)
    conversation = new_conversation(manager, "hi", "hello")
    flaky.down = True
    with Enricher(manager) as enricher, caplog.at_level(logging.WARNING):
        assert enricher.submit(conversation.id, CUSTOMER)
        assert enricher.wait_idle(WAIT)
        assert "store unreachable" in caplog.text
        flaky.down = False
        assert enrich(enricher, conversation.id).title == "hi"  # the next submit redoes it


def test_a_deleted_conversation_is_skipped_quietly(
    manager: ConversationManager, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = new_conversation(manager, "hi", "hello")
    manager.delete_conversation(conversation.id, CUSTOMER)
    with Enricher(manager) as enricher, caplog.at_level(logging.DEBUG):
        enricher.submit(conversation.id, CUSTOMER)
        assert enricher.wait_idle(WAIT)
    [record] = [r for r in caplog.records if r.name == "conversation_store.enrichment"]
    assert record.levelno == logging.DEBUG and "deleted" in record.getMessage()


def test_summary_after_enough_messages_then_refreshed(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "Plan a trip to Tokyo. In April.", "Sure.")
    append_exchanges(manager, conversation.id, range(1))
    with Enricher(manager) as enricher:
        assert enrich(enricher, conversation.id).summary is None  # 4 messages
        append_exchanges(manager, conversation.id, range(1, 2))
        first = enrich(enricher, conversation.id)
        assert first.summary == "Plan a trip to Tokyo. · Question 0. · Question 1."
        assert first.metadata[SUMMARY_COUNT_KEY] == 6
        append_exchanges(manager, conversation.id, range(2, 4))  # 10 messages: not yet
        assert enrich(enricher, conversation.id).summary == first.summary
        append_exchanges(manager, conversation.id, range(4, 5))  # 12 messages
        refreshed = enrich(enricher, conversation.id)
    assert refreshed.summary is not None and refreshed.summary.endswith("Question 4.")
    assert refreshed.metadata[SUMMARY_COUNT_KEY] == 12


def test_summary_from_the_model(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "a", "b", "c", "d", "e", "f")
    with Enricher(manager, summary_writer=lambda messages: f"{len(messages)} msgs") as enricher:
        assert enrich(enricher, conversation.id).summary == "6 msgs"


def test_a_summary_set_by_someone_else_is_kept(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "a", "b", "c", "d", "e", "f")
    manager.set_summary(conversation.id, CUSTOMER, "Written by hand")
    append_exchanges(manager, conversation.id, range(3))
    with Enricher(manager) as enricher:
        assert enrich(enricher, conversation.id).summary == "Written by hand"


def test_submits_of_a_waiting_conversation_are_coalesced(store: ConversationStore) -> None:
    counting = FlakyStore(store)
    manager = ConversationManager(counting)
    busy = new_conversation(manager, "first", "reply")
    other = new_conversation(manager, "second", "reply")
    started, release = threading.Event(), threading.Event()

    def slow_model(messages: Sequence[Message]) -> str:
        started.set()
        release.wait(WAIT)
        return "Title"

    with Enricher(manager, title_writer=slow_model) as enricher:
        assert enricher.submit(busy.id, CUSTOMER)
        assert started.wait(WAIT)  # the worker is inside the first job
        counting.reads.clear()
        assert [enricher.submit(other.id, CUSTOMER) for _ in range(5)] == [
            True,
            False,
            False,
            False,
            False,
        ]
        assert not enricher.wait_idle(0)
        release.set()
        assert enricher.wait_idle(WAIT)
    assert counting.reads.count(other.id) == 1


def test_close_drops_queued_jobs_and_refuses_new_ones(manager: ConversationManager) -> None:
    conversation = new_conversation(manager, "hi", "hello")
    enricher = Enricher(manager)
    enricher.close()
    enricher.close()
    assert enricher.wait_idle(0)
    with pytest.raises(RuntimeError, match="closed"):
        enricher.submit(conversation.id, CUSTOMER)


def test_derive_title() -> None:
    assert derive_title("  hello   world \nsecond line") == "hello world"
    assert derive_title("\n\n  Plan it\nlater") == "Plan it"
    assert derive_title(" \n ") is None
    long = derive_title("word " * 30, max_chars=20)
    assert long is not None and long.endswith("…") and len(long) <= 20 and "wor…" not in long


def test_shorten_cuts_a_single_long_word() -> None:
    assert shorten("x" * 30, 10) == "x" * 9 + "…"


def message(role: str, content: str) -> Message:
    return Message(role=role, content=content)


def test_extract_summary_keeps_the_topic_and_the_newest_points() -> None:
    messages = [message("user", "Topic first! Details."), message("assistant", "Ignored.")]
    messages += [message("user", f"Point {n} is here. More.") for n in range(40)]
    messages.append(message("user", "Point 39 is here. Repeated."))
    summary = extract_summary(messages, max_chars=80)
    assert summary is not None and len(summary) <= 80
    assert summary.startswith("Topic first! · … · ")
    assert summary.endswith("Point 38 is here. · Point 39 is here.")
    assert extract_summary([message("assistant", "only me")]) is None
