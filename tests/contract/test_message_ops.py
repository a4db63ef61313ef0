"""Issue 15 contract, message operations: append_messages(create_if_missing), pop_messages,
get_messages and replace_messages, on every backend (memory, SQLite, the outbox wrapper,
Cosmos DB and PostgreSQL).

Cosmos runs with 8 KiB items (`TEST_LIMITS`), so the longer conversations here are sealed into
segments and the pops and replacements cross them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conversation_store import (
    ConflictError,
    ConversationManager,
    ConversationNotFoundError,
    ConversationStore,
    CosmosStore,
    InvalidInputError,
    MessageNotFoundError,
    StoreUnavailableError,
)
from conversation_store.ids import new_message_id
from conversation_store.models import Message
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore

CUSTOMER = "alice"


def _message(content: str, role: str = "user", *, tokens: int = 1, **extra: Any) -> Message:
    return Message.model_validate(
        {"id": new_message_id(), "role": role, "content": content, "tokens": tokens, **extra}
    )


def _messages(count: int, prefix: str = "m", *, size: int = 0) -> list[Message]:
    return [_message(f"{prefix}{i} " + "x" * size, tokens=i + 1) for i in range(count)]


def _stored(manager: ConversationManager, conversation_id: str) -> list[Message]:
    return manager.load_conversation(conversation_id, CUSTOMER).messages


def _assert_counters(manager: ConversationManager, conversation_id: str) -> None:
    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert loaded.message_count == len(loaded.messages)
    assert loaded.total_tokens == sum(m.tokens or 0 for m in loaded.messages)


def _new_chat(manager: ConversationManager, messages: list[Message]) -> str:
    doc = manager.create_conversation_document(CUSTOMER, "s1", title="ops")
    manager.save_conversation(doc)
    if messages:
        manager.append_messages(doc.id, CUSTOMER, messages)
    return doc.id


def _run_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- append_messages(create_if_missing) ---------------------------------------------------------


def test_append_creates_a_missing_conversation_with_its_header(
    manager: ConversationManager,
) -> None:
    messages = _messages(3)

    result = manager.append_messages(
        "c_agent_1",
        CUSTOMER,
        messages,
        create_if_missing=True,
        session_id="sess/with/slashes",
        title="Agent run",
        metadata={"framework": "openai-agents"},
        external_id="thread/42?x#y",
    )

    loaded = manager.load_conversation("c_agent_1", CUSTOMER)
    assert result.message_ids == [m.id for m in messages]
    assert [m.id for m in loaded.messages] == [m.id for m in messages]
    assert (loaded.session_id, loaded.title) == ("sess/with/slashes", "Agent run")
    assert loaded.metadata == {"framework": "openai-agents"}
    assert loaded.external_id == "thread/42?x#y"
    _assert_counters(manager, "c_agent_1")


def test_append_with_create_if_missing_appends_to_an_existing_one_and_is_idempotent(
    manager: ConversationManager,
) -> None:
    first, second = _messages(2, "a"), _messages(2, "b")
    manager.append_messages("c_agent_2", CUSTOMER, first, create_if_missing=True, title="kept")

    manager.append_messages("c_agent_2", CUSTOMER, [*first, *second], create_if_missing=True)
    manager.append_messages("c_agent_2", CUSTOMER, second, create_if_missing=True, title="other")

    loaded = manager.load_conversation("c_agent_2", CUSTOMER)
    assert [m.id for m in loaded.messages] == [m.id for m in [*first, *second]]
    assert loaded.title == "kept"  # the header fields are only used by the create
    _assert_counters(manager, "c_agent_2")


def test_racing_creates_of_one_conversation_both_succeed_and_store_each_message_once(
    manager: ConversationManager,
) -> None:
    shared = _messages(3, "shared")
    own = [_messages(2, f"t{i}-") for i in range(4)]

    def create(index: int) -> None:
        manager.append_messages(
            "c_race", CUSTOMER, [*shared, *own[index]], create_if_missing=True, title="race"
        )

    _run_threads(4, create)

    ids = [m.id for m in _stored(manager, "c_race")]
    assert sorted(ids) == sorted(m.id for m in [*shared, *(m for o in own for m in o)])
    assert len(ids) == len(set(ids))
    _assert_counters(manager, "c_race")


def test_append_without_create_if_missing_keeps_its_behaviour(
    manager: ConversationManager,
) -> None:
    with pytest.raises(ConversationNotFoundError):
        manager.append_messages("c_missing", CUSTOMER, _messages(1))
    with pytest.raises(InvalidInputError):
        manager.append_messages("c_missing", CUSTOMER, _messages(1), title="needs create")
    with pytest.raises(ConversationNotFoundError):
        manager.load_conversation("c_missing", CUSTOMER)


@pytest.mark.capability("external_ids")
def test_create_if_missing_with_another_conversations_external_id_is_a_conflict(
    manager: ConversationManager,
) -> None:
    manager.append_messages(
        "c_holder", CUSTOMER, _messages(1), create_if_missing=True, external_id="ext-1"
    )

    with pytest.raises(ConflictError):
        manager.append_messages(
            "c_other", CUSTOMER, _messages(1), create_if_missing=True, external_id="ext-1"
        )
    with pytest.raises(ConversationNotFoundError):
        manager.load_conversation("c_other", CUSTOMER)


# -- pop_messages --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 40])  # 40 messages of ~300 bytes cross the Cosmos bound
def test_pop_returns_the_newest_messages_oldest_first_and_keeps_counters(
    manager: ConversationManager, count: int
) -> None:
    messages = _messages(count, size=300)
    conversation_id = _new_chat(manager, messages)

    popped = manager.pop_messages(conversation_id, CUSTOMER, 2)

    assert [m.id for m in popped] == [m.id for m in messages[-2:]]
    assert [m.content for m in popped] == [m.content for m in messages[-2:]]
    assert [m.id for m in _stored(manager, conversation_id)] == [m.id for m in messages[:-2]]
    _assert_counters(manager, conversation_id)


def test_pop_across_sealed_segments_and_more_than_stored(manager: ConversationManager) -> None:
    messages = [_message("You are terse.", "system"), *_messages(39, size=300)]
    conversation_id = _new_chat(manager, messages)

    popped = manager.pop_messages(conversation_id, CUSTOMER, 30)
    assert [m.id for m in popped] == [m.id for m in messages[-30:]]
    assert [m.id for m in _stored(manager, conversation_id)] == [m.id for m in messages[:-30]]
    _assert_counters(manager, conversation_id)

    rest = manager.pop_messages(conversation_id, CUSTOMER, 1000)
    assert [m.id for m in rest] == [m.id for m in messages[:-30]]
    assert manager.pop_messages(conversation_id, CUSTOMER) == []
    _assert_counters(manager, conversation_id)
    manager.append_messages(conversation_id, CUSTOMER, messages[:2])  # popped ids may come back
    assert [m.id for m in _stored(manager, conversation_id)] == [m.id for m in messages[:2]]


def test_pop_of_a_missing_conversation_is_not_found(manager: ConversationManager) -> None:
    with pytest.raises(ConversationNotFoundError):
        manager.pop_messages("c_missing", CUSTOMER)
    conversation_id = _new_chat(manager, _messages(2))
    with pytest.raises(ConversationNotFoundError):
        manager.pop_messages(conversation_id, "bob")  # another customer's
    assert len(_stored(manager, conversation_id)) == 2


@pytest.mark.parametrize("count", [8, 40])
def test_concurrent_pops_never_return_a_message_twice(
    manager: ConversationManager, count: int
) -> None:
    messages = _messages(count, size=300)
    conversation_id = _new_chat(manager, messages)
    popped: list[list[Message]] = [[] for _ in range(4)]

    def pop(index: int) -> None:
        for _ in range(3):
            popped[index].extend(manager.pop_messages(conversation_id, CUSTOMER, 1))

    _run_threads(4, pop)

    ids = [m.id for batch in popped for m in batch]
    assert len(ids) == len(set(ids)) == min(12, count)
    remaining = [m.id for m in _stored(manager, conversation_id)]
    assert remaining == [m.id for m in messages[: count - len(ids)]]
    assert set(ids) == {m.id for m in messages[count - len(ids) :]}
    _assert_counters(manager, conversation_id)


def test_pops_racing_appends_lose_nothing(manager: ConversationManager) -> None:
    conversation_id = _new_chat(manager, _messages(6))
    appended = _messages(6, "new")
    popped: list[Message] = []

    def work(index: int) -> None:
        if index == 0:
            for message in appended:
                manager.append_messages(conversation_id, CUSTOMER, [message])
        else:
            for _ in range(3):
                popped.extend(manager.pop_messages(conversation_id, CUSTOMER))

    _run_threads(3, work)

    stored = [m.id for m in _stored(manager, conversation_id)]
    assert len(popped) + len(stored) == 12
    assert not {m.id for m in popped} & set(stored)
    _assert_counters(manager, conversation_id)


# -- get_messages ----------------------------------------------------------------------------------


def test_get_messages_is_a_raw_tail_or_page(manager: ConversationManager) -> None:
    messages = [
        _message("Be brief.", "system"),
        *_messages(30, size=300),
        _message("", "assistant", kind="reasoning"),
    ]
    conversation_id = _new_chat(manager, messages)
    ids = [m.id for m in messages]

    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER)] == ids
    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER, last=3)] == ids[-3:]
    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER, last=99)] == ids
    page = manager.get_messages(conversation_id, CUSTOMER, last=4, before=ids[10])
    assert [m.id for m in page] == ids[6:10]
    older = manager.get_messages(conversation_id, CUSTOMER, before=ids[5])
    assert [m.id for m in older] == ids[:5]
    start = manager.get_messages(conversation_id, CUSTOMER, last=4, before=ids[2])
    assert [m.id for m in start] == ids[:2]
    assert manager.get_messages(conversation_id, CUSTOMER, before=ids[0]) == []


def test_get_messages_with_an_unknown_before_id_is_message_not_found(
    manager: ConversationManager,
) -> None:
    conversation_id = _new_chat(manager, _messages(5))
    with pytest.raises(MessageNotFoundError):
        manager.get_messages(conversation_id, CUSTOMER, last=2, before="m_unknown")
    with pytest.raises(MessageNotFoundError):
        manager.get_messages(conversation_id, CUSTOMER, before="m_unknown")
    with pytest.raises(ConversationNotFoundError):
        manager.get_messages("c_missing", CUSTOMER)


# -- replace_messages --------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), [(3, 2), (40, 5), (3, 40), (40, 40)])
def test_replace_messages_swaps_the_whole_history(
    manager: ConversationManager, old: int, new: int
) -> None:
    conversation_id = _new_chat(manager, _messages(old, "old", size=300))
    replacement = _messages(new, "new", size=300)

    result = manager.replace_messages(conversation_id, CUSTOMER, replacement)

    assert result.message_ids == [m.id for m in replacement]
    assert [m.id for m in _stored(manager, conversation_id)] == [m.id for m in replacement]
    assert [m.id for m in manager.get_messages(conversation_id, CUSTOMER, last=2)] == [
        m.id for m in replacement[-2:]
    ]
    _assert_counters(manager, conversation_id)
    manager.append_messages(conversation_id, CUSTOMER, _messages(1, "after"))
    assert len(_stored(manager, conversation_id)) == new + 1


def test_replace_with_nothing_empties_and_keeps_the_header(manager: ConversationManager) -> None:
    conversation_id = _new_chat(manager, _messages(4))

    manager.replace_messages(conversation_id, CUSTOMER, [])

    loaded = manager.load_conversation(conversation_id, CUSTOMER)
    assert (loaded.messages, loaded.message_count, loaded.total_tokens) == ([], 0, 0)
    assert loaded.title == "ops"
    with pytest.raises(ConversationNotFoundError):
        manager.replace_messages("c_missing", CUSTOMER, _messages(1))


def test_readers_never_see_a_mix_during_replacements(manager: ConversationManager) -> None:
    generations = [_messages(30, f"g{g}-", size=300) for g in range(3)]
    conversation_id = _new_chat(manager, generations[0])
    allowed = [[m.id for m in g] for g in generations]
    seen: list[list[str | None]] = []

    def work(index: int) -> None:
        if index == 0:
            for replacement in generations[1:]:
                manager.replace_messages(conversation_id, CUSTOMER, replacement)
        else:
            for _ in range(4):
                seen.append([m.id for m in _stored(manager, conversation_id)])

    _run_threads(3, work)

    assert all(ids in allowed for ids in seen)
    _assert_counters(manager, conversation_id)


# -- hostile input -----------------------------------------------------------------------------

BAD_COUNTS = [0, -1, 1001, 2**63, True, False, "1", 1.0, None, [1]]
BAD_IDS = ["", "a/b", "x\ud800", "\udfff", " pad", 7, None]


def _export(manager: ConversationManager) -> str:
    lines = manager.export_customer(CUSTOMER).splitlines(keepends=True)
    return "".join(line for line in lines if '"exported_at"' not in line)


def test_hostile_inputs_are_typed_errors_and_change_nothing(manager: ConversationManager) -> None:
    conversation_id = _new_chat(manager, _messages(3))
    message_id = str(_stored(manager, conversation_id)[1].id)
    before = _export(manager)
    calls: list[Callable[[], object]] = []
    for n in BAD_COUNTS:
        calls.append(lambda n=n: manager.pop_messages(conversation_id, CUSTOMER, n))
        if n not in (None, 1001):  # a window may be longer than a pop
            calls.append(lambda n=n: manager.get_messages(conversation_id, CUSTOMER, last=n))
    for bad in BAD_IDS:
        calls += [
            lambda bad=bad: manager.pop_messages(bad, CUSTOMER),
            lambda bad=bad: manager.pop_messages(conversation_id, bad),
            lambda bad=bad: manager.replace_messages(bad, CUSTOMER, []),
            lambda bad=bad: manager.append_messages(
                bad, CUSTOMER, _messages(1), create_if_missing=True
            ),
        ]
        if bad is not None:
            calls.append(
                lambda bad=bad: manager.get_messages(conversation_id, CUSTOMER, before=bad)
            )
    duplicate = _message("twice")
    calls += [
        lambda: manager.replace_messages(conversation_id, CUSTOMER, [duplicate, duplicate]),
        lambda: manager.replace_messages(conversation_id, CUSTOMER, "not messages"),  # type: ignore[arg-type]
        lambda: manager.replace_messages(conversation_id, CUSTOMER, [{"role": "user"}]),  # type: ignore[list-item]
        lambda: manager.replace_messages(
            conversation_id, CUSTOMER, [Message(id=None, role="user", content="no id")]
        ),
        lambda: manager.replace_messages(conversation_id, CUSTOMER, [_message("x\ud800")]),
        lambda: manager.append_messages(
            "c_new",
            CUSTOMER,
            _messages(1),
            create_if_missing="yes",  # type: ignore[arg-type]
        ),
        lambda: manager.append_messages(
            "c_new", CUSTOMER, _messages(1), create_if_missing=True, title="t" * 201
        ),
        lambda: manager.append_messages(
            "c_new", CUSTOMER, _messages(1), create_if_missing=True, external_id="\x00"
        ),
        lambda: manager.append_messages(
            "c_new", CUSTOMER, _messages(1), create_if_missing=True, metadata={"k": float("nan")}
        ),
        lambda: manager.append_messages("c_new", CUSTOMER, [], create_if_missing=True),
    ]

    for call in calls:
        with pytest.raises(InvalidInputError):
            call()

    assert _export(manager) == before
    assert message_id in [m.id for m in _stored(manager, conversation_id)]


# -- degraded mode: the outbox over a primary that can be switched off -------------------------


class SwitchableStore(MemoryStore):
    """The in-memory store, unreachable while `down` is set (a fake at our own protocol)."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        if name in _STORE_CALLS and object.__getattribute__(self, "down"):
            raise StoreUnavailableError("switched off by the test")
        return super().__getattribute__(name)


_STORE_CALLS = {name for name in dir(MemoryStore) if not name.startswith("_")} - {"close"}


@pytest.fixture
def degraded(tmp_path: Path) -> Iterator[tuple[SwitchableStore, OutboxStore]]:
    primary = SwitchableStore()
    outbox = OutboxStore(primary, OutboxQueue(tmp_path / "outbox.db"), background=False)
    yield primary, outbox
    outbox.close()


def test_pop_and_replace_are_refused_while_writes_are_queued(
    degraded: tuple[SwitchableStore, OutboxStore],
) -> None:
    primary, outbox = degraded
    manager = ConversationManager(outbox)
    conversation_id = _new_chat(manager, _messages(3))
    primary.down = True
    queued = _messages(1, "queued")
    assert manager.append_messages(conversation_id, CUSTOMER, queued).pending

    with pytest.raises(StoreUnavailableError):
        manager.pop_messages(conversation_id, CUSTOMER)
    with pytest.raises(StoreUnavailableError):
        manager.replace_messages(conversation_id, CUSTOMER, _messages(1))
    primary.down = False
    with pytest.raises(StoreUnavailableError):  # still queued: a pop must not overtake it
        manager.pop_messages(conversation_id, CUSTOMER)

    assert outbox.flush() == 0  # none left pending
    assert [m.id for m in manager.pop_messages(conversation_id, CUSTOMER)] == [queued[0].id]
    assert len(_stored(manager, conversation_id)) == 3
    _assert_counters(manager, conversation_id)


@pytest.mark.parametrize("exists", [False, True])
def test_create_if_missing_is_queued_while_the_primary_is_down(
    degraded: tuple[SwitchableStore, OutboxStore], exists: bool
) -> None:
    primary, outbox = degraded
    manager = ConversationManager(outbox)
    before = _messages(2, "before") if exists else []
    if exists:
        manager.append_messages("c_queued", CUSTOMER, before, create_if_missing=True)
    primary.down = True
    first, second = _messages(2, "a"), _messages(1, "b")

    manager.append_messages("c_queued", CUSTOMER, first, create_if_missing=True, title="q")
    manager.append_messages("c_queued", CUSTOMER, [*first, *second], create_if_missing=True)

    expected = [m.id for m in [*before, *first, *second]]
    primary.down = False
    assert [m.id for m in manager.get_messages("c_queued", CUSTOMER)] == expected  # merged
    assert outbox.flush() == 0
    assert [m.id for m in _stored(manager, "c_queued")] == expected
    _assert_counters(manager, "c_queued")


# -- a model-based check: every step against a plain list --------------------------------------


class MessageOpsMachine(RuleBasedStateMachine):
    """append / append_messages(create_if_missing) / pop / replace / get_messages against a
    list, checked after every step."""

    manager: ConversationManager
    conversation_id = "c_model"

    def __init__(self) -> None:
        super().__init__()
        self.model: list[Message] | None = None
        self.manager.delete_conversation(self.conversation_id, CUSTOMER)

    @rule(count=st.integers(1, 4), create=st.booleans())
    def append(self, count: int, create: bool) -> None:
        messages = _messages(count, size=200)
        if self.model is None and not create:
            with pytest.raises(ConversationNotFoundError):
                self.manager.append_messages(self.conversation_id, CUSTOMER, messages)
            return
        self.manager.append_messages(
            self.conversation_id, CUSTOMER, messages, create_if_missing=create
        )
        self.model = [*(self.model or []), *messages]

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def retry_an_append(self, data: st.DataObject) -> None:
        assert self.model is not None
        again = data.draw(st.sampled_from(self.model))
        self.manager.append_messages(
            self.conversation_id, CUSTOMER, [again], create_if_missing=True
        )

    @precondition(lambda self: self.model is not None)
    @rule(n=st.integers(1, 12))
    def pop(self, n: int) -> None:
        assert self.model is not None
        popped = self.manager.pop_messages(self.conversation_id, CUSTOMER, n)
        expected = self.model[len(self.model) - min(n, len(self.model)) :]
        assert [m.id for m in popped] == [m.id for m in expected]
        del self.model[len(self.model) - len(expected) :]

    @precondition(lambda self: self.model is not None)
    @rule(count=st.integers(0, 12))
    def replace(self, count: int) -> None:
        replacement = _messages(count, "r", size=200)
        self.manager.replace_messages(self.conversation_id, CUSTOMER, replacement)
        self.model = replacement

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def page(self, data: st.DataObject) -> None:
        assert self.model is not None
        position = data.draw(st.integers(0, len(self.model) - 1))
        last = data.draw(st.none() | st.integers(1, 10))
        page = self.manager.get_messages(
            self.conversation_id, CUSTOMER, last=last, before=self.model[position].id
        )
        expected = self.model[:position] if last is None else self.model[:position][-last:]
        assert [m.id for m in page] == [m.id for m in expected]

    @invariant()
    def matches_the_model(self) -> None:
        if self.model is None:
            with pytest.raises(ConversationNotFoundError):
                self.manager.get_messages(self.conversation_id, CUSTOMER)
            return
        stored = self.manager.get_messages(self.conversation_id, CUSTOMER)
        assert [m.id for m in stored] == [m.id for m in self.model]
        loaded = self.manager.load_conversation(self.conversation_id, CUSTOMER, last=1)
        assert loaded.message_count == len(self.model)
        assert loaded.total_tokens == sum(m.tokens or 0 for m in self.model)


def test_message_ops_match_a_list_model(
    manager: ConversationManager, store: ConversationStore
) -> None:
    MessageOpsMachine.manager = manager
    machine_test = MessageOpsMachine.TestCase
    machine_test.settings = settings(
        max_examples=12 if isinstance(store, CosmosStore) else 25,  # a Cosmos example is slow
        stateful_step_count=12,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    machine_test().runTest()
