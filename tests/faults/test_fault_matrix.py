"""The fault matrix of issue 13, on the local Cosmos server: every write operation x every
fault x {no seal, seal}, each cell its own test, counting lost, duplicated and misreported writes.

A fault is injected in front of the real server (tests/support/transport.py) on the next write
requests of the call (on the seal's transactional batch in the seal cells of the calls that
seal): the response lost after the write landed, a 503, a refused connection (each twice, so the
call's retry is hit as well), or a storm of 429s asking to wait 60 s, longer than the retry
policy's limit. After the call the cell looks at the store, and when the call raised, retries it
once (as a caller does) and looks again:

- lost: a message (or an effect: title, edit, delete) the call was asked for that is missing;
- duplicated: a message stored more than once, or one stored that should not be (a fork made
  twice, a cleared message back);
- misreported: a call that raised although its write landed, returned although nothing landed,
  or raised "not found" / "conflict" about its own write (a retry that fails counts too);
- orphans: segments in the customer's partition whose head is gone or of another generation;
- bad_counters: message_count unlike the messages stored.

Every figure must be 0. The outbox cases (`kill -9` before dequeue, after the primary write but
before dequeue, during replay) are subprocess tests against a real outbox file at the end.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.cosmos import ContainerProxy
from faults_support import (
    LONG_RETRY_AFTER,
    STORM_RETRY,
    WriteFault,
    items_of,
    orphan_segments,
    record,
    segments_of,
    unique,
)

from conversation_store import (
    ConflictError,
    Conversation,
    ConversationKey,
    ConversationManager,
    ConversationNotFoundError,
    ConversationStoreError,
    Message,
    MessageNotFoundError,
    SQLiteStore,
)
from conversation_store.export import conversation_to_json
from conversation_store.stores.cosmos.store import CosmosStore
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore
from conversation_store.transfer import copy_conversation
from support.cosmos_fixtures import FAST_RETRY, TEST_DATABASE, CosmosTarget, open_cosmos_store
from support.transport import Fault, RecordingTransport

pytestmark = pytest.mark.cosmos

SMALL = "short words " * 4
SEED_SMALL = 3
SEED_SEALING = 30  # x ~250 bytes: past the tests' 8 KiB bound, so the seed has segments
MEDIUM = "medium text " * 21
LARGE = "large message text " * 260  # ~5 KB: an append of it crosses the bound again
HUGE = "tool output " * 2000  # ~24 KB: over the tests' 8 KiB bound, a segment of its own
ROUNDS = [1, pytest.param(5, marks=pytest.mark.soak, id="soak5")]
FAULTS = ["lose_response", "429_storm", "503", "refuse"]
CONFUSED = (ConversationNotFoundError, ConflictError, MessageNotFoundError)


@dataclass
class Ctx:
    manager: ConversationManager
    transport: RecordingTransport
    raw: ContainerProxy
    customer: str
    tmp: Path


@dataclass
class State:
    """What one cell prepared and expects."""

    conversation_id: str
    expected: list[str] = field(default_factory=list)  # message ids, in order
    title: str | None = None
    edited: tuple[str, str] | None = None  # (message id, content)
    gone: bool = False
    forks: int | None = None
    doc: Conversation | None = None
    payload: Any = None


@dataclass(frozen=True)
class Observed:
    landed: bool
    lost: int
    duplicated: int
    bad_counters: int


@dataclass(frozen=True)
class Operation:
    prepare: Callable[[Ctx, bool], State]
    act: Callable[[Ctx, State], None]
    seals: bool  # its seal variant writes a seal batch, which the fault then aims at


# -- preparing ---------------------------------------------------------------------------------


def new_doc(ctx: Ctx, seal: bool, *, large_last: bool) -> Conversation:
    doc = ctx.manager.create_conversation_document(ctx.customer, "s1", title="matrix")
    for n in range(SEED_SEALING if seal else SEED_SMALL):
        ctx.manager.add_message_to_conversation(doc, "user", f"{n} {MEDIUM if seal else SMALL}")
    if seal and large_last:
        ctx.manager.add_message_to_conversation(doc, "assistant", LARGE)
    return doc


def seeded(ctx: Ctx, seal: bool) -> State:
    doc = ctx.manager.save_conversation(new_doc(ctx, seal, large_last=False))
    return State(doc.id, [str(m.id) for m in doc.messages], title=doc.title)


def prepare_new(ctx: Ctx, seal: bool) -> State:
    doc = new_doc(ctx, seal, large_last=True)
    return State(doc.id, [str(m.id) for m in doc.messages], title=doc.title, doc=doc)


def prepare_existing(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    doc = ctx.manager.load_conversation(state.conversation_id, ctx.customer)
    for n in range(2):
        added = ctx.manager.add_message_to_conversation(
            doc, "user", f"+{n} {LARGE[: 2600 if seal else 60]}"
        )
        state.expected.append(str(added.id))
    doc.title = "saved again"
    state.title, state.doc = doc.title, doc
    return state


def prepare_append(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.payload = unique("m")
    state.expected.append(state.payload)
    return state


def prepare_transfer(ctx: Ctx, seal: bool) -> State:
    state = prepare_new(ctx, seal)
    source = SQLiteStore(ctx.tmp / f"{unique('source')}.db")
    assert state.doc is not None
    ConversationManager(source).save_conversation(state.doc)
    state.payload = source
    return state


def prepare_fork(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.payload = state.expected[-1]  # fork at the newest message: the fork holds them all
    state.forks = 1
    return state


def prepare_clear(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.expected = []
    return state


def prepare_delete(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.expected, state.gone = [], True
    return state


def prepare_rename(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.title = "renamed"
    return state


def prepare_edit(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)  # the oldest message: in a segment when the seed sealed
    state.edited = (state.expected[0], "edited content")
    return state


def prepare_delete_message(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.payload = state.expected.pop(0)
    return state


def prepare_append_create(ctx: Ctx, seal: bool) -> State:
    """A conversation that does not exist yet, created by its first `append_messages`."""
    state = State(unique("c"), title="made by append")
    state.payload = new_messages(SEED_SEALING if seal else SEED_SMALL, seal)
    state.expected = [str(m.id) for m in state.payload]
    return state


def new_messages(count: int, seal: bool) -> list[Message]:
    """`count` messages with fresh ids, of the size that seals the tests' bound or not."""
    body = MEDIUM if seal else SMALL
    return [Message(id=unique("m"), role="user", content=f"{n} {body}") for n in range(count)]


def prepare_append_large(ctx: Ctx, seal: bool) -> State:
    """A message bigger than the head's bound: its append seals it into a segment of its own."""
    state = seeded(ctx, seal)
    state.payload = [Message(id=unique("m"), role="tool", content=HUGE, tool_call_id="call_1")]
    state.expected.append(str(state.payload[0].id))
    return state


def prepare_pop(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    state.expected.pop()  # the newest goes, exactly once
    return state


def prepare_replace(ctx: Ctx, seal: bool) -> State:
    state = seeded(ctx, seal)
    # More messages than the seed when sealing: the replacement has more segments than it.
    state.payload = new_messages(2 * SEED_SEALING if seal else SEED_SMALL, seal)
    state.expected = [str(m.id) for m in state.payload]
    return state


# -- acting ------------------------------------------------------------------------------------


def act_save(ctx: Ctx, state: State) -> None:
    assert state.doc is not None
    ctx.manager.save_conversation(state.doc)


def act_append(ctx: Ctx, state: State) -> None:
    content = LARGE if len(state.expected) > SEED_SEALING else SMALL
    ctx.manager.append_message(
        state.conversation_id, ctx.customer, "user", content, message_id=state.payload
    )


def act_append_messages(ctx: Ctx, state: State) -> None:
    ctx.manager.append_messages(
        state.conversation_id,
        ctx.customer,
        state.payload,
        create_if_missing=state.title == "made by append",
        title=state.title if state.title == "made by append" else None,
    )


def act_pop(ctx: Ctx, state: State) -> None:
    ctx.manager.pop_messages(state.conversation_id, ctx.customer)


def act_replace(ctx: Ctx, state: State) -> None:
    ctx.manager.replace_messages(state.conversation_id, ctx.customer, state.payload)


def act_import(ctx: Ctx, state: State) -> None:
    assert state.doc is not None
    ctx.manager.import_conversations(conversation_to_json(state.doc))


def act_transfer(ctx: Ctx, state: State) -> None:
    copy_conversation(
        state.payload, ctx.manager, ConversationKey(ctx.customer, state.conversation_id)
    )


def act_fork(ctx: Ctx, state: State) -> None:
    ctx.manager.fork_conversation(state.conversation_id, ctx.customer, state.payload)


def act_clear(ctx: Ctx, state: State) -> None:
    ctx.manager.clear_conversation(state.conversation_id, ctx.customer)


def act_delete(ctx: Ctx, state: State) -> None:
    ctx.manager.delete_conversation(state.conversation_id, ctx.customer)


def act_rename(ctx: Ctx, state: State) -> None:
    assert state.title is not None
    ctx.manager.rename_conversation(state.conversation_id, ctx.customer, state.title)


def act_edit(ctx: Ctx, state: State) -> None:
    assert state.edited is not None
    ctx.manager.edit_message(state.conversation_id, ctx.customer, *state.edited)


def act_delete_message(ctx: Ctx, state: State) -> None:
    ctx.manager.delete_message(state.conversation_id, ctx.customer, state.payload)


OPERATIONS: dict[str, Operation] = {
    "append_message": Operation(prepare_append, act_append, seals=True),
    "save_new": Operation(prepare_new, act_save, seals=True),  # the create via save
    "save_existing": Operation(prepare_existing, act_save, seals=True),
    "import": Operation(prepare_new, act_import, seals=True),
    "transfer_copy": Operation(prepare_transfer, act_transfer, seals=True),
    "fork": Operation(prepare_fork, act_fork, seals=True),
    "clear": Operation(prepare_clear, act_clear, seals=False),
    "delete": Operation(prepare_delete, act_delete, seals=False),
    "rename": Operation(prepare_rename, act_rename, seals=False),
    "edit": Operation(prepare_edit, act_edit, seals=False),
    "delete_message": Operation(prepare_delete_message, act_delete_message, seals=False),
    "append_messages_create": Operation(prepare_append_create, act_append_messages, seals=True),
    "append_large_message": Operation(prepare_append_large, act_append_messages, seals=True),
    "pop_messages": Operation(prepare_pop, act_pop, seals=False),
    "replace_messages": Operation(prepare_replace, act_replace, seals=True),
}


# -- observing ---------------------------------------------------------------------------------


def observe(ctx: Ctx, state: State) -> Observed:
    if state.gone:
        return observe_deleted(ctx, state)
    try:
        stored = ctx.manager.load_conversation(state.conversation_id, ctx.customer)
    except ConversationNotFoundError:  # a create that did not land
        return Observed(False, len(state.expected) or 1, 0, 0)
    ids = [str(m.id) for m in stored.messages]
    lost = len(set(state.expected) - set(ids))
    duplicated = len(ids) - len(set(ids)) + len(set(ids) - set(state.expected))
    if state.title is not None and stored.title != state.title:
        lost += 1
    if state.edited is not None:
        contents = {str(m.id): m.content for m in stored.messages}
        lost += contents.get(state.edited[0]) != state.edited[1]
    if state.forks is not None:
        made = count_forks(ctx, state)
        lost += made < state.forks
        duplicated += max(0, made - state.forks)
    bad = int(stored.message_count != len(stored.messages))
    return Observed(lost == duplicated == 0, lost, duplicated, bad)


def observe_deleted(ctx: Ctx, state: State) -> Observed:
    try:
        ctx.manager.load_conversation(state.conversation_id, ctx.customer)
    except ConversationNotFoundError:
        left = len(segments_of(items_of(ctx.raw, ctx.customer), state.conversation_id))
        return Observed(True, 0, left, 0)
    return Observed(False, 1, 0, 0)


def count_forks(ctx: Ctx, state: State) -> int:
    page = ctx.manager.get_recent_conversations(ctx.customer, 100, archived=None)
    forks = [s for s in page.items if s.id != state.conversation_id]
    for summary in forks:  # each fork must hold the source's messages, once
        fork = ctx.manager.load_conversation(summary.id, ctx.customer)
        assert [str(m.id) for m in fork.messages] == state.expected
    return len(forks)


# -- one cell ----------------------------------------------------------------------------------


def fault_for(kind: str, at_batch: bool) -> Fault:
    if kind == "429_storm":
        return WriteFault(
            "status", status=429, headers=LONG_RETRY_AFTER, times=100, batch_only=at_batch
        )
    if kind == "503":
        return WriteFault("status", status=503, times=2, batch_only=at_batch)
    if kind == "refuse":
        return WriteFault("refuse", times=2, batch_only=at_batch)
    return WriteFault("lose_response", times=2, batch_only=at_batch)


def attempt(ctx: Ctx, operation: Operation, state: State) -> ConversationStoreError | None:
    try:
        operation.act(ctx, state)
    except ConversationStoreError as exc:
        return exc
    return None


@dataclass
class Figures:
    lost: int = 0
    duplicated: int = 0
    misreported: int = 0
    orphans: int = 0
    bad_counters: int = 0
    sealed: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, observed: Observed) -> None:
        self.lost += observed.lost
        self.duplicated += observed.duplicated
        self.bad_counters += observed.bad_counters


def run_cell(ctx: Ctx, name: str, kind: str, seal: bool, figures: Figures) -> None:
    operation = OPERATIONS[name]
    state = operation.prepare(ctx, seal)
    segments_before = count_segments(ctx)
    ctx.transport.clear()
    ctx.transport.inject(fault_for(kind, at_batch=seal and operation.seals))
    raised = attempt(ctx, operation, state)
    fired = any(r.fault is not None for r in ctx.transport.records)
    ctx.transport.clear()
    assert fired, f"{name}: the {kind} fault never fired (the cell tests nothing)"
    first = observe(ctx, state)
    if (raised is None) != first.landed or isinstance(raised, CONFUSED):
        figures.misreported += 1
        figures.notes.append(f"call: {describe(raised)}, its write landed: {first.landed}")
    if raised is not None:
        retried = attempt(ctx, operation, state)
        if retried is not None:
            figures.misreported += 1
            figures.notes.append(f"the caller's retry: {describe(retried)}")
    figures.add(observe(ctx, state))
    figures.orphans += len(orphan_segments(items_of(ctx.raw, ctx.customer)))
    figures.sealed += count_segments(ctx) > segments_before


def count_segments(ctx: Ctx) -> int:
    return sum(i.get("type") == "segment" for i in items_of(ctx.raw, ctx.customer))


def describe(exc: BaseException | None) -> str:
    return "returned" if exc is None else f"raised {type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def matrix_stores(
    faults_container: tuple[CosmosTarget, str],
) -> Iterator[dict[bool, tuple[CosmosStore, RecordingTransport]]]:
    """Two stores for every cell (each cell writes under its own customer id): one with the
    default time limit, for the faults it must absorb, one with a short limit, for the storms."""
    target, name = faults_container
    stores: dict[bool, tuple[CosmosStore, RecordingTransport]] = {}
    for storm, policy in ((False, FAST_RETRY), (True, STORM_RETRY)):
        transport = RecordingTransport(connection_verify=target.verify_tls)
        stores[storm] = (
            open_cosmos_store(target, name, transport=transport, retry=policy),
            transport,
        )
    yield stores
    for store, transport in stores.values():
        store.close()
        transport.close()


@pytest.fixture
def matrix_ctx(
    matrix_stores: dict[bool, tuple[CosmosStore, RecordingTransport]],
    faults_raw: ContainerProxy,
    tmp_path: Path,
    kind: str,
) -> Ctx:
    store, transport = matrix_stores[kind == "429_storm"]
    transport.clear()
    return Ctx(ConversationManager(store), transport, faults_raw, "", tmp_path)


@pytest.mark.parametrize("rounds", ROUNDS)
@pytest.mark.parametrize("seal", [False, True], ids=["no_seal", "seal"])
@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_fault_matrix_cell(matrix_ctx: Ctx, name: str, kind: str, seal: bool, rounds: int) -> None:
    figures = Figures()
    for _ in range(rounds):
        matrix_ctx.customer = unique("cust")
        run_cell(matrix_ctx, name, kind, seal, figures)
    cell = f"{name} x {kind} x {'seal' if seal else 'no_seal'}"
    values = {k: v for k, v in vars(figures).items() if k != "notes"}
    record("fault matrix (cosmos)", cell, rounds, **values)
    if seal and OPERATIONS[name].seals and kind != "429_storm":
        assert figures.sealed == rounds, f"{cell}: the write did not cross a seal"
    assert (figures.lost, figures.duplicated, figures.misreported) == (0, 0, 0), figures
    assert (figures.orphans, figures.bad_counters) == (0, 0), figures


# -- the outbox: kill -9 at three points --------------------------------------------------------

# One process: queues a create and appends while Cosmos is down (the outbox's primary points at
# a closed port), then replays the outbox into the real server and dies by SIGKILL at `point`:
# `queued` right after queueing, before any dequeue; `dequeue` in its `kill_at`-th dequeue
# (that write landed, its queue row is still there); `replay` right after the `kill_at`-th
# write response came back, before the store looked at it (mid-replay, mid-seal).
CRASHING_WRITER = """
import os, signal, sys
from azure.core.pipeline.transport import RequestsTransport
from conversation_store import ConversationManager, CosmosStore, RetryPolicy
from conversation_store.stores.cosmos.items import SizeLimits
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore
endpoint, database, container, outbox, customer, conversation_id = sys.argv[1:7]
count, size, point, kill_at = int(sys.argv[7]), int(sys.argv[8]), sys.argv[9], int(sys.argv[10])
limits = SizeLimits(8 * 1024)
calls = [0]
def count_and_maybe_die():
    calls[0] += 1
    if calls[0] >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
class DyingTransport(RequestsTransport):
    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if request.method != "GET" and not request.headers.get("x-ms-documentdb-isquery"):
            count_and_maybe_die()
        return response
down = CosmosStore.from_endpoint("https://127.0.0.1:9/", credential="a2V5", database=database,
                                 container=container, connection_verify=False,
                                 retry=RetryPolicy(attempts=1), limits=limits)
manager = ConversationManager(OutboxStore(down, OutboxQueue(outbox), background=False))
doc = manager.create_conversation_document(customer, "s1", conversation_id=conversation_id)
for n in range(count):
    manager.add_message_to_conversation(doc, "user", f"created {n} " + "x" * size)
manager.save_conversation(doc)
for n in range(count):
    assert manager.append_message(conversation_id, customer, "user",
                                  f"queued {n} " + "x" * size).pending
if point == "queued":
    os.kill(os.getpid(), signal.SIGKILL)
if point == "dequeue":
    remove = OutboxQueue.remove
    def dying_remove(self, seq):
        count_and_maybe_die()
        remove(self, seq)
    OutboxQueue.remove = dying_remove
transport = DyingTransport(connection_verify=False) if point == "replay" else None
up = CosmosStore.from_endpoint(endpoint, credential="a2V5", database=database,
                               container=container, connection_verify=False,
                               transport=transport, retry=RetryPolicy(attempts=2), limits=limits)
OutboxStore(up, OutboxQueue(outbox), background=False).flush()
sys.exit(3)  # it should have died before the queue was empty
"""

OUTBOX_CASES = {
    "kill_before_dequeue": "queued",
    "kill_after_write_before_dequeue": "dequeue",
    "kill_during_replay": "replay",
}


@pytest.mark.parametrize("rounds", [1, pytest.param(8, marks=pytest.mark.soak, id="soak8")])
@pytest.mark.parametrize("seal", [False, True], ids=["no_seal", "seal"])
@pytest.mark.parametrize("case", list(OUTBOX_CASES))
def test_outbox_crash_cell(
    faults_container: tuple[CosmosTarget, str], tmp_path: Path, case: str, seal: bool, rounds: int
) -> None:
    target, name = faults_container
    figures = Figures()
    for n in range(rounds):
        figures.add(crash_round(target, name, tmp_path / f"outbox{n}.db", case, seal, n))
    cell = f"{case} x {'seal' if seal else 'no_seal'}"
    values = {k: v for k, v in vars(figures).items() if k not in ("sealed", "notes")}
    record("fault matrix (outbox, kill -9)", cell, rounds, **values)
    assert (figures.lost, figures.duplicated, figures.bad_counters) == (0, 0, 0), values


def crash_round(
    target: CosmosTarget, container: str, outbox: Path, case: str, seal: bool, n: int
) -> Observed:
    """One crash, then the next process's replay; what the conversation holds afterwards."""
    customer, conversation_id = unique("cust"), unique("c")
    count, size = (12, 900) if seal else (3, 20)  # seal: the create seals, so do the appends
    kill_at = 1 + (n * 3) % count  # the queue holds 1 + count writes
    args = [target.endpoint, TEST_DATABASE, container, str(outbox), customer, conversation_id]
    args += [str(count), str(size), OUTBOX_CASES[case], str(kill_at)]
    child = subprocess.run([sys.executable, "-c", CRASHING_WRITER, *args], timeout=120, check=False)
    assert child.returncode == -9, "the writer did not die where it was meant to"
    cosmos: CosmosStore = open_cosmos_store(target, container, retry=FAST_RETRY)
    with OutboxStore(cosmos, OutboxQueue(outbox), background=False) as store:
        assert store.flush() == 0 and store.parked_count() == 0
        stored = store.get_conversation(ConversationKey(customer, conversation_id))
    acknowledged = [f"{w} {i} " + "x" * size for w in ("created", "queued") for i in range(count)]
    contents = [m.content for m in stored.messages]
    lost = len(set(acknowledged) - set(contents))
    duplicated = len(contents) - len(set(contents))
    in_order = [c for c in contents if c in acknowledged] == acknowledged
    bad = int(stored.message_count != len(contents)) + int(not in_order and lost == 0)
    return Observed(lost == 0, lost, duplicated, bad)
