"""Delete, clear and rename race 8 concurrent appenders, on every backend (on Cosmos with the
tests' 8 KiB bound, so the appends seal segments while the other call runs).

Each append and the racing call take a ticket from one counter when they start and when they
return, so the test knows which appends were acknowledged before the call started (a clear must
remove those), after it returned (they must be stored exactly once; after a delete, none may
succeed), or during it (stored at most once). Afterwards, on Cosmos, no segment may be left
without its head or from an older generation, and a conversation created again under a deleted
id holds only its own messages and keeps sealing without a conflict.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.cosmos import ContainerProxy, CosmosClient
from faults_support import is_query, items_of, orphan_segments, record, unique

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    ConversationStoreError,
)
from conversation_store.stores.protocol import ConversationStore
from support.cosmos_fixtures import FAST_RETRY, TEST_DATABASE, CosmosTarget, open_cosmos_store

APPENDERS = 8
APPENDS_EACH = 8
FILLER = 20  # seeded messages of ~300 bytes: the racing appends seal on Cosmos from the start
STARTED_ACKS = APPENDERS * 2  # the racing call starts once this many appends were acknowledged
BODY = " words to fill the item" * 40  # ~1 KB: on Cosmos a seal every few appends
ACTIONS = ["delete", "clear", "rename"]
SLOW_READ_SECONDS = 0.05


@dataclass
class Clock:
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> int:
        with self._lock:
            return next(self._counter)


@dataclass(frozen=True)
class Append:
    message_id: str
    start: int
    end: int
    acknowledged: bool
    error: str | None


@dataclass
class Race:
    appends: list[Append] = field(default_factory=list)
    action_start: int = 0
    action_end: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: threading.Event = field(default_factory=threading.Event)

    def add(self, append: Append) -> None:
        with self.lock:
            self.appends.append(append)
            if sum(a.acknowledged for a in self.appends) >= STARTED_ACKS:
                self.started.set()


@dataclass
class Figures:
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    stale: int = 0  # acknowledged before a clear and still there, or back after a delete
    resurrected: int = 0  # appends acknowledged after a delete returned
    orphans: int = 0
    bad_counters: int = 0
    errors: int = 0  # appends failing with anything but "not found" after a delete
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "notes"}


def appender(
    manager: ConversationManager, key: tuple[str, str], n: int, clock: Clock, race: Race
) -> None:
    conversation_id, customer_id = key
    for j in range(APPENDS_EACH):
        message_id = f"m_{n}_{j}_{unique('r')}"
        start = clock.tick()
        try:
            manager.append_message(
                conversation_id, customer_id, "user", message_id + BODY, message_id=message_id
            )
        except ConversationNotFoundError:
            race.add(Append(message_id, start, clock.tick(), False, None))
        except ConversationStoreError as exc:
            race.add(Append(message_id, start, clock.tick(), False, type(exc).__name__))
        else:
            race.add(Append(message_id, start, clock.tick(), True, None))


def run_race(
    manager: ConversationManager, key: tuple[str, str], action: Callable[[], None]
) -> Race:
    clock, race = Clock(), Race()
    threads = [
        threading.Thread(target=appender, args=(manager, key, n, clock, race))
        for n in range(APPENDERS)
    ]
    for thread in threads:
        thread.start()
    race.started.wait()
    race.action_start = clock.tick()
    action()
    race.action_end = clock.tick()
    for thread in threads:
        thread.join()
    return race


def seeded(manager: ConversationManager, customer: str) -> tuple[str, str]:
    doc = manager.create_conversation_document(customer, "s1", title="before")
    manager.add_message_to_conversation(doc, "system", "seed")
    for n in range(FILLER):
        manager.add_message_to_conversation(doc, "assistant", f"filler {n}" + BODY)
    return manager.save_conversation(doc).id, customer


def check_stored(
    manager: ConversationManager, key: tuple[str, str], race: Race, action: str, figures: Figures
) -> None:
    stored = manager.load_conversation(*key)
    ids = [str(m.id) for m in stored.messages if m.role == "user"]
    before = {a.message_id for a in race.appends if a.acknowledged and a.end < race.action_start}
    after = {a.message_id for a in race.appends if a.acknowledged and a.start > race.action_end}
    acknowledged = {a.message_id for a in race.appends if a.acknowledged}
    must = after if action == "clear" else acknowledged  # one overlapping a clear may go
    figures.lost += len(must - set(ids))
    figures.duplicated += len(ids) - len(set(ids))
    if action == "clear":
        figures.stale += len(before & set(ids)) + sum(m.role != "user" for m in stored.messages)
    if stored.message_count != len(stored.messages):
        figures.bad_counters += 1
        figures.notes.append(f"message_count {stored.message_count}, {len(stored.messages)} stored")
    if action == "rename":
        figures.lost += stored.title != "after"


def check_deleted(
    manager: ConversationManager, key: tuple[str, str], race: Race, figures: Figures
) -> None:
    try:
        manager.load_conversation(*key)
    except ConversationNotFoundError:
        pass
    else:
        figures.stale += 1
    figures.resurrected += sum(a.acknowledged and a.start > race.action_end for a in race.appends)
    recreated = manager.create_conversation_document(key[1], "s1", conversation_id=key[0])
    manager.add_message_to_conversation(recreated, "user", "born again")
    manager.save_conversation(recreated)
    for n in range(30):  # enough to seal on Cosmos: a stale segment id must not conflict
        manager.append_message(key[0], key[1], "user", f"again {n}" + BODY)
    again = manager.load_conversation(*key)
    figures.stale += len(again.messages) - 31
    figures.bad_counters += again.message_count != len(again.messages)


def race_round(
    managers: tuple[ConversationManager, ConversationManager],
    action: str,
    raw: ContainerProxy | None,
    figures: Figures,
) -> None:
    """`managers`: the appenders' and the racing call's (on Cosmos, one whose reads answer
    slowly, so seals commit while the call is between its reads and its writes)."""
    manager, racer = managers
    customer = unique("cust")
    key = seeded(manager, customer)
    calls: dict[str, Callable[[], None]] = {
        "delete": lambda: racer.delete_conversation(*key),
        "clear": lambda: racer.clear_conversation(*key),
        "rename": lambda: racer.rename_conversation(*key, "after"),
    }
    race = run_race(manager, key, calls[action])
    figures.acknowledged += sum(a.acknowledged for a in race.appends)
    figures.errors += sum(a.error is not None for a in race.appends)
    if action != "delete":  # nothing but a delete may make an append "not found"
        figures.errors += sum(not a.acknowledged and a.error is None for a in race.appends)
    if action == "delete":
        figures.orphans += len(orphan_segments(items_of(raw, customer))) if raw else 0
        check_deleted(manager, key, race, figures)
    else:
        check_stored(manager, key, race, action, figures)
    if raw is not None:
        figures.orphans += len(orphan_segments(items_of(raw, customer)))


class SlowReadsTransport(RequestsTransport):
    """Answers every read and query only after a pause: a slow network, widening the window
    between what a call reads and what it writes."""

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().send(request, **kwargs)
        if request.method == "GET" or is_query(request):
            time.sleep(SLOW_READ_SECONDS)
        return response


@pytest.fixture
def racer_store(request: pytest.FixtureRequest) -> ConversationStore | None:
    """On Cosmos, a second store over the same container whose reads answer slowly."""
    if request.node.callspec.params["store_factory"] != "cosmos":
        return None
    target, name = request.getfixturevalue("cosmos_container")
    transport = SlowReadsTransport(connection_verify=target.verify_tls)
    store = open_cosmos_store(target, name, transport=transport, retry=FAST_RETRY)
    request.addfinalizer(store.close)
    return store


@pytest.fixture
def raw_if_cosmos(request: pytest.FixtureRequest) -> ContainerProxy | None:
    if request.node.callspec.params["store_factory"] != "cosmos":
        return None
    target: CosmosTarget
    target, name = request.getfixturevalue("cosmos_container")
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    request.addfinalizer(client.close)
    return client.get_database_client(TEST_DATABASE).get_container_client(name)


@pytest.mark.parametrize("rounds", [2, pytest.param(12, marks=pytest.mark.soak, id="soak12")])
@pytest.mark.parametrize("action", ACTIONS)
def test_call_racing_eight_appenders(
    store_factory: Callable[[], ConversationStore],
    raw_if_cosmos: ContainerProxy | None,
    racer_store: ConversationStore | None,
    request: pytest.FixtureRequest,
    action: str,
    rounds: int,
) -> None:
    store = store_factory()
    manager = ConversationManager(store)
    racer = ConversationManager(racer_store) if racer_store is not None else manager
    figures = Figures()
    try:
        for _ in range(rounds):
            race_round((manager, racer), action, raw_if_cosmos, figures)
    finally:
        store.close()
        backend = request.node.callspec.params["store_factory"]
        record("races (8 appenders)", f"{backend} {action}", rounds, **figures.counts())
    assert figures.counts() | {"acknowledged": 0} == Figures().counts(), figures
