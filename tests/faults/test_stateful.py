"""A Hypothesis state machine drives random writes, each maybe with an injected fault, on every
backend, and compares the store with a plain Python model after every step.

Faults: on Cosmos, through the fault-injecting transport in front of the local server (a
response lost after the write landed, a 503, a refused connection, on the call's next write
request): the store's own retries must absorb them, so the call succeeds and the model applies
it once. On memory and SQLite, through `FaultyStore` at our own protocol: StoreUnavailableError
before delegating (nothing landed) or after (it landed, the answer was lost); the test retries
the call once, as a caller does, and the model applies it once (a fork whose create landed is
found by listing, since a caller's retry makes a new fork). On the outbox, the same wrapper
stands in front of its primary, so a faulted write is queued and replayed by `flush`.

The model holds, per conversation, its messages (id and content, in order) and its title; the
comparison also checks message_count and the customer's listing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from faults_support import FaultyStore, WriteFault, record, unique
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conversation_store import (
    Conversation,
    ConversationManager,
    ConversationNotFoundError,
    MemoryStore,
    OutboxStore,
    SQLiteStore,
    StoreUnavailableError,
)
from conversation_store.export import conversation_to_json
from conversation_store.ids import new_message_id
from conversation_store.stores.outbox.queue import OutboxQueue
from support.cosmos_fixtures import FAST_RETRY, CosmosTarget, open_cosmos_store
from support.transport import FaultKind, RecordingTransport

T = TypeVar("T")

BACKENDS = ["memory", "sqlite", "outbox", pytest.param("cosmos", marks=pytest.mark.cosmos)]
WRAPPER_FAULTS = [None, None, "before", "after"]
COSMOS_FAULTS = [None, None, "lose_response", "503", "refuse"]
TRANSPORT_KINDS: dict[str, FaultKind] = {
    "lose_response": "lose_response",
    "503": "status",
    "refuse": "refuse",
}
FAULT_KINDS = ["before", "after", "lose_response", "503", "refuse"]
LARGE = "a longer message to cross the bound " * 60  # ~2 KB: a few of them seal on Cosmos
words = st.text(alphabet="abcxyz", min_size=1, max_size=8)
contents = st.one_of(st.lists(words, min_size=1, max_size=4).map(" ".join), st.just(LARGE))
titles = st.lists(words, min_size=1, max_size=3).map(" ".join)


@dataclass
class Model:
    messages: list[tuple[str, str | None]] = field(default_factory=list)  # (id, content)
    title: str | None = None


@dataclass
class Tally:
    steps: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    examples: int = 0


@dataclass
class Backend:
    """How one machine run opens its store and injects a fault."""

    manager: ConversationManager
    inject: Callable[[str | None], None]
    fault_kinds: list[str | None]
    retries_itself: bool  # the store absorbs the fault (Cosmos); else the test retries
    outbox: OutboxStore | None = None
    close: Callable[[], None] = lambda: None


def cosmos_backend(cosmos: tuple[CosmosTarget, str]) -> Backend:
    transport = RecordingTransport(connection_verify=cosmos[0].verify_tls)
    store = open_cosmos_store(*cosmos, transport=transport, retry=FAST_RETRY)

    def inject(kind: str | None) -> None:
        transport.clear()
        if kind is not None:
            transport.inject(WriteFault(TRANSPORT_KINDS[kind], status=503, times=1))

    def close() -> None:
        store.close()
        transport.close()  # the store leaves a transport it was given open

    return Backend(ConversationManager(store), inject, COSMOS_FAULTS, True, close=close)


def open_backend(name: str, workdir: Path, cosmos: tuple[CosmosTarget, str] | None) -> Backend:
    if name == "cosmos":
        assert cosmos is not None
        return cosmos_backend(cosmos)
    if name == "memory":
        faulty = FaultyStore(MemoryStore())
    else:
        faulty = FaultyStore(SQLiteStore(workdir / "conversations.db"))
    if name == "outbox":  # the fault in front of the primary: the outbox queues the write
        outbox = OutboxStore(faulty, OutboxQueue(workdir / "outbox.db"), background=False)
        return Backend(
            ConversationManager(outbox), faulty.arm, WRAPPER_FAULTS, True, outbox, outbox.close
        )
    return Backend(
        ConversationManager(faulty), faulty.arm, WRAPPER_FAULTS, False, close=faulty.close
    )


class StoreMachine(RuleBasedStateMachine):
    backend_name = "memory"
    cosmos: tuple[CosmosTarget, str] | None = None
    tally = Tally()

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.backend = open_backend(self.backend_name, self.workdir, self.cosmos)
        self.manager = self.backend.manager
        self.customer = unique("cust")
        self.model: dict[str, Model] = {}
        self.deleted: list[str] = []
        self.tally.examples += 1

    def teardown(self) -> None:
        self.backend.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- running one call under a fault ---------------------------------------------------

    def run(self, fault: str | None, call: Callable[[], T], *, idempotent: bool = True) -> T | None:
        """The call's result, retried once after an injected fault; None when its write
        landed and it is not idempotent (a fork: the caller then looks for it)."""
        self.tally.steps += 1
        if fault is not None:
            self.tally.faults[fault] += 1
            event(f"fault {fault}")
        self.backend.inject(fault)
        try:
            return call()
        except StoreUnavailableError:
            if fault is None or self.backend.retries_itself:
                raise
        finally:
            self.backend.inject(None)
        return call() if idempotent or fault == "before" else None

    def pick(self, n: int, *, with_messages: bool = False) -> str:
        ids = sorted(c for c, m in self.model.items() if m.messages or not with_messages)
        return ids[n % len(ids)]

    def has(self, *, with_messages: bool = False) -> bool:
        return any(m.messages or not with_messages for m in self.model.values())

    def fault(self) -> Any:
        return st.sampled_from(self.backend.fault_kinds)

    # -- rules --------------------------------------------------------------------------------

    @rule(data=st.data(), texts=st.lists(contents, max_size=3), reuse=st.booleans())
    def save_new(self, data: st.DataObject, texts: list[str], reuse: bool) -> None:
        conversation_id = self.deleted.pop() if reuse and self.deleted else None
        doc = self.manager.create_conversation_document(
            self.customer, "s1", title="new", conversation_id=conversation_id
        )
        for text in texts:
            self.manager.add_message_to_conversation(doc, "user", text)
        self.run(data.draw(self.fault()), lambda: self.manager.save_conversation(doc))
        self.model[doc.id] = Model([(str(m.id), m.content) for m in doc.messages], "new")

    @precondition(lambda self: self.has())
    @rule(data=st.data(), n=st.integers(0, 99), text=contents, title=st.none() | titles)
    def save_existing(self, data: st.DataObject, n: int, text: str, title: str | None) -> None:
        conversation_id = self.pick(n)
        doc = self.manager.load_conversation(conversation_id, self.customer)
        added = self.manager.add_message_to_conversation(doc, "assistant", text)
        if title is not None:
            doc.title = title
        self.run(data.draw(self.fault()), lambda: self.manager.save_conversation(doc))
        self.model[conversation_id].messages.append((str(added.id), text))
        self.model[conversation_id].title = doc.title

    @precondition(lambda self: self.has())
    @rule(data=st.data(), n=st.integers(0, 99), text=contents)
    def append(self, data: st.DataObject, n: int, text: str) -> None:
        conversation_id, message_id = self.pick(n), new_message_id()
        self.run(
            data.draw(self.fault()),
            lambda: self.manager.append_message(
                conversation_id, self.customer, "user", text, message_id=message_id
            ),
        )
        self.model[conversation_id].messages.append((message_id, text))

    @precondition(lambda self: self.has())
    @rule(data=st.data(), n=st.integers(0, 99))
    def clear(self, data: st.DataObject, n: int) -> None:
        conversation_id = self.pick(n)
        self.run(
            data.draw(self.fault()),
            lambda: self.manager.clear_conversation(conversation_id, self.customer),
        )
        self.model[conversation_id].messages = []

    @precondition(lambda self: self.has())
    @rule(data=st.data(), n=st.integers(0, 99))
    def delete(self, data: st.DataObject, n: int) -> None:
        conversation_id = self.pick(n)
        self.run(
            data.draw(self.fault()),
            lambda: self.manager.delete_conversation(conversation_id, self.customer),
        )
        del self.model[conversation_id]
        self.deleted.append(conversation_id)

    @precondition(lambda self: self.has(with_messages=True))
    @rule(data=st.data(), n=st.integers(0, 99), at=st.integers(0, 99))
    def fork(self, data: st.DataObject, n: int, at: int) -> None:
        source = self.model[self.pick(n, with_messages=True)]
        cut = at % len(source.messages) + 1
        source_id = self.pick(n, with_messages=True)
        fork = self.run(
            data.draw(self.fault()),
            lambda: self.manager.fork_conversation(
                source_id, self.customer, source.messages[cut - 1][0]
            ),
            idempotent=False,
        )
        fork_id = fork.id if fork is not None else self.find_new_conversation()
        stored = self.manager.load_conversation(fork_id, self.customer)
        self.model[fork_id] = Model(list(source.messages[:cut]), stored.title)

    @precondition(lambda self: self.has(with_messages=True))
    @rule(data=st.data(), n=st.integers(0, 99), at=st.integers(0, 99), text=contents)
    def edit(self, data: st.DataObject, n: int, at: int, text: str) -> None:
        conversation_id = self.pick(n, with_messages=True)
        messages = self.model[conversation_id].messages
        message_id = messages[at % len(messages)][0]
        self.run(
            data.draw(self.fault()),
            lambda: self.manager.edit_message(conversation_id, self.customer, message_id, text),
        )
        messages[at % len(messages)] = (message_id, text)

    @precondition(lambda self: self.has())
    @rule(data=st.data(), n=st.integers(0, 99), title=titles)
    def rename(self, data: st.DataObject, n: int, title: str) -> None:
        conversation_id = self.pick(n)
        self.run(
            data.draw(self.fault()),
            lambda: self.manager.rename_conversation(conversation_id, self.customer, title),
        )
        self.model[conversation_id].title = title

    @rule(data=st.data(), texts=st.lists(contents, min_size=1, max_size=3), onto=st.booleans())
    def import_document(self, data: st.DataObject, texts: list[str], onto: bool) -> None:
        """Import a new conversation, or an export of a stored one with messages it lacks."""
        doc = self.import_base(onto)
        added = [self.manager.add_message_to_conversation(doc, "user", t) for t in texts]
        exported = conversation_to_json(doc)
        self.run(data.draw(self.fault()), lambda: self.manager.import_conversations(exported))
        model = self.model.setdefault(doc.id, Model([], doc.title))
        model.messages.extend((str(m.id), m.content) for m in added)

    @precondition(lambda self: self.backend.outbox is not None)
    @rule()
    def flush(self) -> None:
        assert self.backend.outbox is not None
        assert self.backend.outbox.flush() == 0
        assert self.backend.outbox.parked_count() == 0

    # -- helpers ------------------------------------------------------------------------------

    def import_base(self, onto: bool) -> Conversation:
        if onto and self.has():
            return self.manager.load_conversation(self.pick(0), self.customer)
        return self.manager.create_conversation_document(self.customer, "s1", title="imported")

    def find_new_conversation(self) -> str:
        page = self.manager.get_recent_conversations(self.customer, 100, archived=None)
        new = [s.id for s in page.items if s.id not in self.model]
        assert len(new) == 1, f"a fork whose answer was lost left {len(new)} new conversations"
        return new[0]

    # -- the comparison -----------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        for conversation_id, model in self.model.items():
            stored = self.manager.load_conversation(conversation_id, self.customer)
            assert [(str(m.id), m.content) for m in stored.messages] == model.messages
            assert stored.message_count == len(model.messages)
            assert stored.title == model.title
        for conversation_id in self.deleted:
            with pytest.raises(ConversationNotFoundError):
                self.manager.load_conversation(conversation_id, self.customer)
        page = self.manager.get_recent_conversations(self.customer, 100, archived=None)
        assert sorted(s.id for s in page.items) == sorted(self.model)


def machine_settings(examples: int, steps: int, *, shrink: bool) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def run_machine(request: pytest.FixtureRequest, backend: str, examples: int, steps: int) -> None:
    cosmos = request.getfixturevalue("faults_container") if backend == "cosmos" else None
    machine = type(
        f"{backend.title()}Machine",
        (StoreMachine,),
        {"backend_name": backend, "cosmos": cosmos, "tally": Tally()},
    )
    try:
        run_state_machine_as_test(
            machine, settings=machine_settings(examples, steps, shrink=backend != "cosmos")
        )
    finally:
        tally: Tally = machine.tally  # type: ignore[attr-defined]
        record(
            "stateful",
            backend,
            tally.examples,
            steps=tally.steps,
            faults=sum(tally.faults.values()),
            **{kind: tally.faults[kind] for kind in FAULT_KINDS},
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_matches_the_model_under_faults(request: pytest.FixtureRequest, backend: str) -> None:
    run_machine(request, backend, examples=12, steps=15)


@pytest.mark.soak
@pytest.mark.timeout(3_600)  # 300 x 50 steps on the Cosmos server take 15-18 minutes
@pytest.mark.parametrize("backend", BACKENDS)
def test_store_matches_the_model_under_faults_soak(
    request: pytest.FixtureRequest, backend: str
) -> None:
    run_machine(request, backend, examples=300, steps=50)
