"""Pins, filtered listings, lookup by external id and a listing order that header changes do not
move (issues 15 and 18), on every backend. A Hypothesis test compares filtered listings with a
plain-Python model; hostile filter values and external ids give InvalidInputError and leave the
store unchanged."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation_store import (
    ConflictError,
    ConversationManager,
    ConversationNotFoundError,
    ConversationSummary,
    HeaderUpdate,
    InvalidInputError,
    ListFilter,
    aio,
)
from conversation_store.aio.postgres import PostgresStore as AsyncPostgresStore
from conversation_store.models import SUMMARY_FIELDS, ConversationKey, format_timestamp
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS, CosmosTarget, fresh_container

HOSTILE_EXTERNAL_IDS = [
    "a/b?c#d",
    "spaces and\ttabs",
    "ünïcödé 会话 🦜",
    "\\back\\slash",
    "%2F",
    ".",
]


def _new_customer() -> str:
    return f"cust-{uuid.uuid4().hex[:12]}"


def _chat(manager: ConversationManager, customer: str, title: str, **header: Any) -> str:
    external_id = header.pop("external_id", None)
    doc = manager.create_conversation_document(
        customer, header.pop("session_id", "s1"), title=title, external_id=external_id, **header
    )
    manager.add_message_to_conversation(doc, "user", f"hello from {title}")
    manager.save_conversation(doc)
    return doc.id


def _all(
    manager: ConversationManager, customer: str, limit: int = 100, **filters: Any
) -> list[str]:
    """Every listed id, page by page, with the same filters on every page."""
    ids: list[str] = []
    continuation = None
    while True:
        page = manager.get_recent_conversations(customer, limit, continuation, **filters)
        ids += [s.id for s in page.items]
        if page.continuation is None:
            return ids
        continuation = page.continuation


def _export(manager: ConversationManager, customer: str) -> str:
    lines = manager.export_customer(customer).splitlines(keepends=True)
    return "".join(line for line in lines if '"exported_at"' not in line)


# -- pins ----------------------------------------------------------------------------------


def test_a_pin_is_stored_in_the_header_and_lists_on_its_own(manager: ConversationManager) -> None:
    customer = _new_customer()
    first, second, third = (_chat(manager, customer, t) for t in ("one", "two", "three"))

    manager.pin_conversation(second, customer)

    assert manager.load_conversation(second, customer).pinned is True
    assert _all(manager, customer, pinned=True) == [second]
    assert _all(manager, customer, pinned=False) == [third, first]
    assert _all(manager, customer) == [third, second, first]  # the order stays
    [summary] = manager.get_recent_conversations(customer, pinned=True).items
    assert summary.pinned is True
    manager.pin_conversation(second, customer, False)
    assert _all(manager, customer, pinned=True) == []
    assert manager.load_conversation(second, customer).pinned is False


@pytest.mark.parametrize("bad", [1, 0, "yes", None, 1.0])
def test_pinning_takes_a_bool_only(manager: ConversationManager, bad: object) -> None:
    customer = _new_customer()
    conversation_id = _chat(manager, customer, "one")
    before = _export(manager, customer)

    with pytest.raises(InvalidInputError):
        manager.pin_conversation(conversation_id, customer, bad)  # type: ignore[arg-type]

    assert _export(manager, customer) == before


def test_pinning_a_missing_conversation_is_not_found(manager: ConversationManager) -> None:
    with pytest.raises(ConversationNotFoundError):
        manager.pin_conversation("c_missing", _new_customer())


def test_a_saved_pin_is_saved_as_a_header_change(manager: ConversationManager) -> None:
    customer = _new_customer()
    conversation_id = _chat(manager, customer, "one")
    doc = manager.load_conversation(conversation_id, customer)

    doc.pinned = True
    manager.save_conversation(doc)

    assert manager.load_conversation(conversation_id, customer).pinned is True


# -- the listing order ---------------------------------------------------------------------


@pytest.mark.capability("share_links")
def test_header_changes_never_move_a_conversation_in_the_listing(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    oldest, middle, newest = (_chat(manager, customer, t) for t in ("a", "b", "c"))
    expected = [newest, middle, oldest]
    changes: list[Callable[[], object]] = [
        lambda: manager.rename_conversation(oldest, customer, "renamed"),
        lambda: manager.pin_conversation(oldest, customer),
        lambda: manager.update_metadata(oldest, customer, {"k": "v"}),
        lambda: manager.set_summary(oldest, customer, "a summary"),
        lambda: manager.set_conversation_ttl(oldest, customer, 3600),
        lambda: manager.share_conversation(oldest, customer),
        lambda: manager.unshare_conversation(oldest, customer),
    ]
    for change in changes:
        updated_at = manager.load_conversation(oldest, customer).updated_at
        change()
        assert _all(manager, customer, archived=None) == expected
        stored = manager.load_conversation(oldest, customer)
        assert stored.updated_at == updated_at
        assert stored.header_updated_at is not None and stored.written_at > updated_at

    manager.archive_conversation(middle, customer)
    manager.archive_conversation(middle, customer, False)
    assert _all(manager, customer) == expected
    manager.append_message(oldest, customer, "user", "activity moves it")
    assert _all(manager, customer) == [oldest, newest, middle]


def test_a_ttl_counts_from_the_last_write_also_a_header_change(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    conversation_id = _chat(manager, customer, "idle")
    manager.set_conversation_ttl(conversation_id, customer, 3600)

    stored = manager.load_conversation(conversation_id, customer)
    assert stored.ttl == 3600
    assert _all(manager, customer) == [conversation_id]


# -- filtered listings ---------------------------------------------------------------------


def test_listings_filter_by_session_persona_org_and_a_metadata_value(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    a = _chat(manager, customer, "a", session_id="s1", persona="tutor", metadata={"n": 1})
    b = _chat(manager, customer, "b", session_id="s2", org_id="org/1", metadata={"n": 1.0})
    c = _chat(manager, customer, "c", session_id="s1", persona="tutor", metadata={"n": True})
    d = _chat(manager, customer, "d", session_id="s1", metadata={"n": "1", "x": None})

    assert _all(manager, customer, session_id="s1") == [d, c, a]
    assert _all(manager, customer, persona="tutor") == [c, a]
    assert _all(manager, customer, org_id="org/1") == [b]
    assert _all(manager, customer, metadata=("n", 1)) == [b, a]  # 1 == 1.0, never true
    assert _all(manager, customer, metadata=("n", True)) == [c]
    assert _all(manager, customer, metadata=("n", "1")) == [d]
    assert _all(manager, customer, metadata=("x", None)) == [d]
    assert _all(manager, customer, metadata=("missing", None)) == []
    assert _all(manager, customer, session_id="s1", persona="tutor", limit=1) == [c, a]
    assert _all(manager, _new_customer(), session_id="s1") == []


def test_a_continuation_belongs_to_its_filter(manager: ConversationManager) -> None:
    customer = _new_customer()
    for title in "abc":
        _chat(manager, customer, title, session_id="s1")
    page = manager.get_recent_conversations(customer, 1, session_id="s1")
    assert page.continuation is not None

    for other in (
        {},
        {"session_id": "s2"},
        {"session_id": "s1", "pinned": False},
        {"session_id": "s1", "archived": None},
        {"session_id": "s1", "metadata": ("k", 1)},
    ):
        with pytest.raises(InvalidInputError):
            manager.get_recent_conversations(customer, 1, page.continuation, **other)
    rest = manager.get_recent_conversations(customer, 5, page.continuation, session_id="s1")
    assert len(rest.items) == 2


def _hostile_filters() -> st.SearchStrategy[dict[str, Any]]:
    surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    deep: Any = "x"
    for level in range(40):
        deep = {"k": deep} if level % 2 else [deep]
    bad_values = st.one_of(
        st.integers(min_value=2**53),
        st.integers(max_value=-(2**53)),
        st.sampled_from([float("nan"), float("inf"), deep, [1], {"a": 1}, b"x", "x\x00"]),
        surrogate,
        st.just("v" * 1_001),
    )
    return st.one_of(
        st.sampled_from([1, 0, "yes", 0.5]).map(lambda v: {"pinned": v}),
        st.one_of(surrogate, st.just("s\x00"), st.just("s" * 1_001), st.integers()).flatmap(
            lambda v: st.sampled_from(
                [{"session_id": v}, {"persona": v}, {"org_id": v}, {"metadata": (v, 1)}]
            )
        ),
        bad_values.map(lambda v: {"metadata": ("k", v)}),
        st.sampled_from(["k", ("k",), ("k", 1, 2), {"k": 1}, ("", 1), 7]).map(
            lambda v: {"metadata": v}
        ),
    )


def test_hostile_filters_are_invalid_input_and_change_nothing(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    _chat(manager, customer, "kept", metadata={"k": 1})
    before = _export(manager, customer)

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(_hostile_filters())
    def check(filters: dict[str, Any]) -> None:
        with pytest.raises(InvalidInputError):
            manager.get_recent_conversations(customer, **filters)

    check()
    assert _export(manager, customer) == before


# -- the model -----------------------------------------------------------------------------

_header = st.fixed_dictionaries(
    {
        "session_id": st.sampled_from(["s1", "s2", "s/3"]),
        "persona": st.sampled_from([None, "tutor", "coach"]),
        "org_id": st.sampled_from([None, "org-1", "ö"]),
        "metadata": st.dictionaries(
            st.sampled_from(["k", "tag"]),
            st.sampled_from([1, 1.5, 2, True, False, None, "1", "a"]),
            max_size=2,
        ),
        "pinned": st.booleans(),
        "archived": st.booleans(),
    }
)
_filters = st.fixed_dictionaries(
    {},
    optional={
        "archived": st.sampled_from([False, True, None]),
        "pinned": st.sampled_from([None, True, False]),
        "session_id": st.sampled_from(["s1", "s/3", "nope"]),
        "persona": st.sampled_from(["tutor", "coach"]),
        "org_id": st.sampled_from(["org-1", "ö"]),
        "metadata": st.tuples(
            st.sampled_from(["k", "tag"]), st.sampled_from([1, 1.0, True, None, "1", "a"])
        ),
    },
)


def _model(summaries: list[ConversationSummary], filters: dict[str, Any]) -> list[str]:
    """The listing as a plain-Python model: `ListFilter.matches`, newest activity first."""
    archived = filters.get("archived", False)
    where = ListFilter(**{k: v for k, v in filters.items() if k != "archived"})
    kept = [
        s for s in summaries if (archived is None or s.archived == archived) and where.matches(s)
    ]
    kept.sort(key=lambda s: (format_timestamp(s.updated_at), s.id), reverse=True)
    return [s.id for s in kept]


def test_filtered_listings_match_a_plain_python_model(manager: ConversationManager) -> None:
    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.lists(_header, min_size=1, max_size=6), st.lists(_filters, min_size=1, max_size=4))
    def check(headers: list[dict[str, Any]], filter_sets: list[dict[str, Any]]) -> None:
        customer = _new_customer()
        created = []
        for n, header in enumerate(headers):
            pinned, archived = header.pop("pinned"), header.pop("archived")
            created.append(_chat(manager, customer, f"t{n}", **header))
            if pinned:
                manager.pin_conversation(created[-1], customer)
            if archived:
                manager.archive_conversation(created[-1], customer)
        # The model's rows come from loads, not from a listing.
        stored = [
            ConversationSummary.model_validate(
                manager.load_conversation(c, customer).model_dump(include=set(SUMMARY_FIELDS))
            )
            for c in created
        ]
        for filters in filter_sets:
            assert _all(manager, customer, limit=2, **filters) == _model(stored, filters)

    check()


# -- external ids --------------------------------------------------------------------------


@pytest.mark.capability("external_ids")
@pytest.mark.parametrize("external_id", HOSTILE_EXTERNAL_IDS)
def test_a_conversation_is_found_by_an_external_id_of_any_characters(
    manager: ConversationManager, external_id: str
) -> None:
    customer = _new_customer()
    conversation_id = _chat(manager, customer, "mine", external_id=external_id)
    _chat(manager, customer, "other", external_id=external_id + "-other")

    found = manager.get_conversation_by_external_id(customer, external_id)

    assert (found.id, found.external_id, found.message_count) == (conversation_id, external_id, 1)
    assert manager.get_conversation_by_external_id(customer, external_id, last=1).id == found.id
    [summary] = [s for s in manager.get_recent_conversations(customer).items if s.id == found.id]
    assert summary.external_id == external_id


@pytest.mark.capability("external_ids")
def test_an_external_id_never_selects_another_customers_conversation(
    manager: ConversationManager,
) -> None:
    owner, stranger = _new_customer(), _new_customer()
    _chat(manager, owner, "private", external_id="session-1")

    for probe in ("session-1", "session-%", "session-*", "' OR 1=1 --", "session-1 "):
        with pytest.raises(ConversationNotFoundError):
            manager.get_conversation_by_external_id(stranger, probe)
    # The same external id is free for another customer.
    theirs = _chat(manager, stranger, "theirs", external_id="session-1")
    assert manager.get_conversation_by_external_id(stranger, "session-1").id == theirs


@pytest.mark.capability("external_ids")
def test_an_external_id_is_unique_per_customer(manager: ConversationManager) -> None:
    customer = _new_customer()
    first = _chat(manager, customer, "first", external_id="dup/1")
    before = _export(manager, customer)
    duplicate = manager.create_conversation_document(customer, "s", external_id="dup/1")
    manager.add_message_to_conversation(duplicate, "user", "second")

    with pytest.raises(ConflictError):
        manager.save_conversation(duplicate)

    assert _export(manager, customer) == before
    assert manager.get_conversation_by_external_id(customer, "dup/1").id == first


@pytest.mark.capability("external_ids")
def test_racing_creates_of_one_external_id_give_one_conversation(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create(n: int) -> None:
        doc = manager.create_conversation_document(customer, "s", external_id="race")
        manager.add_message_to_conversation(doc, "user", f"racer {n}")
        barrier.wait()
        try:
            manager.save_conversation(doc)
            outcomes.append("created")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"]
    assert len(_all(manager, customer)) == 1


@pytest.mark.capability("external_ids")
def test_a_deleted_conversation_frees_its_external_id(manager: ConversationManager) -> None:
    customer = _new_customer()
    gone = _chat(manager, customer, "gone", external_id="reuse")
    manager.delete_conversation(gone, customer)

    with pytest.raises(ConversationNotFoundError):
        manager.get_conversation_by_external_id(customer, "reuse")
    again = _chat(manager, customer, "again", external_id="reuse")
    assert manager.get_conversation_by_external_id(customer, "reuse").id == again


@pytest.mark.capability("external_ids")
def test_an_external_id_is_fixed_once_created(manager: ConversationManager, store: Any) -> None:
    customer = _new_customer()
    conversation_id = _chat(manager, customer, "fixed", external_id="fixed")
    before = _export(manager, customer)

    with pytest.raises(InvalidInputError):
        store.update_conversation(
            ConversationKey(customer, conversation_id),
            HeaderUpdate(fields={"external_id": "moved"}),
        )
    with pytest.raises(ValueError):  # the model refuses the assignment itself
        manager.load_conversation(conversation_id, customer).external_id = "moved"
    assert _export(manager, customer) == before


_bad_external_ids = st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.tuples(st.text(max_size=4), st.just("\x00")).map("".join),
    st.sampled_from(["", "x" * 256, 7, None, b"id", ["id"], {"id": 1}]),
    st.integers(min_value=2**63),
)


@pytest.mark.capability("external_ids")
def test_hostile_external_ids_are_invalid_input_and_change_nothing(
    manager: ConversationManager,
) -> None:
    customer = _new_customer()
    _chat(manager, customer, "kept", external_id="kept")
    before = _export(manager, customer)

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(_bad_external_ids)
    def check(bad: Any) -> None:
        with pytest.raises(InvalidInputError):
            manager.get_conversation_by_external_id(customer, bad)
        if bad is not None:  # None is "no external id" when creating
            with pytest.raises(InvalidInputError):
                manager.create_conversation_document(customer, "s", external_id=bad)

    check()
    assert _export(manager, customer) == before


@pytest.mark.capability("external_ids")
def test_an_import_with_a_taken_external_id_is_refused(manager: ConversationManager) -> None:
    customer = _new_customer()
    _chat(manager, customer, "first", external_id="taken")
    other = manager.create_conversation_document(customer, "s", external_id="taken")
    manager.add_message_to_conversation(other, "user", "imported")
    before = _export(manager, customer)

    with pytest.raises(ConflictError):
        manager.import_conversations(other.to_json(), customer_id=customer)

    assert _export(manager, customer) == before


# -- the async twins -----------------------------------------------------------------------


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("cosmos", marks=pytest.mark.cosmos),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def async_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield aio.MemoryStore()
    elif request.param == "sqlite":
        yield aio.SQLiteStore(tmp_path / "a.db")
    elif request.param == "postgres":
        yield AsyncPostgresStore(request.getfixturevalue("postgres_url"))
    else:
        target: CosmosTarget = request.getfixturevalue("cosmos_target")
        with fresh_container(target) as container:
            yield aio.CosmosStore.from_endpoint(
                target.endpoint,
                container=container,
                credential=target.key,
                database=TEST_DATABASE,
                connection_verify=target.verify_tls,
                limits=TEST_LIMITS,
            )


async def test_the_async_manager_pins_filters_and_finds_by_external_id(async_store: Any) -> None:
    customer = _new_customer()
    async with aio.ConversationManager(async_store, owns_store=True) as manager:
        ids = []
        for n, session in enumerate(["s1", "s2", "s1"]):
            doc = manager.create_conversation_document(customer, session, external_id=f"x/{n}")
            manager.add_message_to_conversation(doc, "user", "hi")
            ids.append((await manager.save_conversation(doc)).id)
        await manager.pin_conversation(ids[0], customer)
        await manager.rename_conversation(ids[0], customer, "renamed")

        listed = await manager.get_recent_conversations(customer)
        pinned = await manager.get_recent_conversations(customer, pinned=True)
        first = await manager.get_recent_conversations(customer, 1, session_id="s1")
        rest = await manager.get_recent_conversations(
            customer, 1, first.continuation, session_id="s1"
        )
        found = await manager.get_conversation_by_external_id(customer, "x/1")
        with pytest.raises(InvalidInputError):
            await manager.pin_conversation(ids[1], customer, "yes")  # type: ignore[arg-type]
        with pytest.raises(ConversationNotFoundError):
            await manager.get_conversation_by_external_id(_new_customer(), "x/1")

    assert [s.id for s in listed.items] == ids[::-1]
    assert [s.id for s in pinned.items] == [ids[0]]
    assert [s.id for s in first.items + rest.items] == [ids[2], ids[0]]
    assert found.id == ids[1]
