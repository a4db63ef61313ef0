"""Generated bad input over the public API: always a typed error, never a changed store.

`make test` tries a few hundred inputs per backend; `make soak` runs the nightly size
(10,000 per backend). Injection-looking strings that are legal ids must simply not be found.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
)
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES

INJECTIONS = [
    "' OR 1=1 --",
    '" OR ""="',
    "c.customer_id",
    "*/ SELECT * FROM c /*",
    "@customer_id",
    "'; DROP TABLE conversations; --",
    "${jndi:x}",
    "\u202e",
    "%00",
]
FORBIDDEN = ["/", "\\", "?", "#", "\x00", "\n"]

illegal_ids = st.one_of(
    st.sampled_from(["", " ", " padded", "x" * 256]),
    st.tuples(st.text(max_size=10), st.sampled_from(FORBIDDEN), st.text(max_size=10)).map("".join),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.binary(max_size=5),
)
injection_ids = st.sampled_from([i for i in INJECTIONS if not any(c in i for c in FORBIDDEN)])
bad_roles = st.one_of(
    st.text(max_size=12).filter(
        lambda r: r not in {"system", "user", "assistant", "tool", "function"}
    ),
    st.integers(),
    st.none(),
)
bad_contents = st.one_of(
    st.just(""),
    st.text(alphabet=" \t\n", min_size=1, max_size=5),
    st.integers(),
    st.none(),
    st.just("x" * (DEFAULT_MAX_CONTENT_BYTES + 1)),
    st.just("\ud800 lone surrogate"),
)


def _cyclic() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["again"] = [value]
    return value


bad_metadata = st.one_of(
    st.just(_cyclic()),
    st.just({"n": float("inf")}),
    st.just({1: "int key"}),
    st.just({"set": {1, 2}}),
    st.just({"o": object()}),
    st.just("not a mapping"),
    st.integers(1, 3).map(lambda depth: _nested(40 + depth)),
    st.just({"big": "x" * 70_000}),
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


calls = st.one_of(
    st.tuples(
        st.just("append_message"),
        st.fixed_dictionaries({"role": bad_roles, "content": st.just("fine")}),
    ),
    st.tuples(
        st.just("append_message"),
        st.fixed_dictionaries({"role": st.just("user"), "content": bad_contents}),
    ),
    st.tuples(
        st.just("append_message"),
        st.fixed_dictionaries(
            {"role": st.just("user"), "content": st.just("fine"), "metadata": bad_metadata}
        ),
    ),
    st.tuples(
        st.just("append_message"),
        st.fixed_dictionaries(
            {
                "role": st.just("user"),
                "content": st.just("fine"),
                "message_id": illegal_ids.filter(lambda v: v not in ("", None)),
            }
        ),
    ),
    st.tuples(
        st.just("append_message"),
        st.fixed_dictionaries(
            {
                "role": st.just("user"),
                "content": st.just("fine"),
                "tokens": st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.floats()),
            }
        ),
    ),
    st.tuples(st.just("conversation_id"), illegal_ids),
    st.tuples(st.just("customer_id"), illegal_ids),
    st.tuples(st.just("injection"), injection_ids),
    st.tuples(st.just("rename"), st.one_of(st.just(""), st.just("t" * 201), st.integers())),
    st.tuples(
        st.just("list"),
        st.one_of(st.integers(max_value=0), st.integers(min_value=101), st.text(max_size=20)),
    ),
    st.tuples(
        st.just("search"),
        st.one_of(
            st.text(alphabet=' \t!?*"()-:^', max_size=20),
            st.just(" ".join(f"w{n}" for n in range(11))),
            st.just("x" * 201),
            st.integers(),
            st.none(),
        ),
    ),
    st.tuples(st.just("edit"), bad_contents),
    st.tuples(
        st.just("ttl"),
        st.one_of(
            st.integers(max_value=0), st.floats(), st.text(max_size=3), st.integers(min_value=2**31)
        ),
    ),
    st.tuples(
        st.just("import"),
        st.one_of(
            st.text(max_size=30),
            st.just('{"id": "c_x"}'),
            st.just('[{"id": "c/x", "customer_id": "alice"}]'),
        ),
    ),
    st.tuples(st.just("share_token"), st.one_of(st.text(max_size=40), st.integers())),
)


def _snapshot(manager: ConversationManager) -> str:
    listed = manager.get_recent_conversations("alice", limit=100).items
    return json.dumps([manager.load_conversation(c.id, "alice").to_document() for c in listed])


def _attempt(manager: ConversationManager, conversation_id: str, call: tuple[str, Any]) -> None:
    kind, value = call
    if kind == "append_message":
        manager.append_message(conversation_id, "alice", **value)
    elif kind == "conversation_id":
        manager.append_message(value, "alice", "user", "fine")
    elif kind == "customer_id":
        manager.get_recent_conversations(value)
    elif kind == "injection":
        for attempt in (
            lambda: manager.load_conversation(value, "alice"),
            lambda: manager.load_conversation(conversation_id, value),
            lambda: manager.append_message(value, "alice", "user", "fine"),
        ):
            with pytest.raises(ConversationNotFoundError):
                attempt()
        assert manager.get_recent_conversations(value).items == []
        raise ConversationNotFoundError(value, "alice")
    elif kind == "rename":
        manager.rename_conversation(conversation_id, "alice", value)
    elif kind == "search":
        manager.search_conversations("alice", value)
    elif kind == "edit":
        message_id = manager.load_conversation(conversation_id, "alice").messages[0].id or ""
        manager.edit_message(conversation_id, "alice", message_id, value)
    elif kind == "ttl":
        manager.set_conversation_ttl(conversation_id, "alice", value)
    elif kind == "import":
        manager.import_conversations(value)
    elif kind == "share_token":
        manager.open_shared_conversation(value)
    else:
        manager.get_recent_conversations("alice", limit=value)


def _fuzz(manager: ConversationManager, examples: int) -> int:
    """Run `examples` generated calls; returns how many inputs were tried."""
    doc = manager.create_conversation_document("alice", "s1", title="kept")
    manager.add_message_to_conversation(doc, "user", "original")
    manager.save_conversation(doc)
    before = _snapshot(manager)
    tried = 0

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(calls)
    def check(call: tuple[str, Any]) -> None:
        nonlocal tried
        tried += 1
        with pytest.raises((InvalidInputError, ConversationNotFoundError)) as raised:
            _attempt(manager, doc.id, call)
        assert isinstance(raised.value, ConversationStoreError)

    check()
    assert _snapshot(manager) == before
    return tried


@pytest.mark.capability("search")
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(query=st.text(max_size=60))
def test_any_search_text_is_a_typed_error_or_alices_hits(
    manager: ConversationManager, query: str
) -> None:
    if not manager.get_recent_conversations("alice").items:
        for owner in ("alice", "mallory"):
            doc = manager.create_conversation_document(owner, "s1")
            manager.add_message_to_conversation(doc, "user", 'tokyo "NEAR" * OR x:y ^ -z')
            manager.save_conversation(doc)
    try:
        hits = manager.search_conversations("alice", query)
    except InvalidInputError:
        return
    alices = {c.id for c in manager.get_recent_conversations("alice").items}
    assert {h.conversation_id for h in hits} <= alices


def test_generated_bad_input(manager: ConversationManager) -> None:
    assert _fuzz(manager, examples=150) >= 150


@pytest.mark.soak
def test_generated_bad_input_nightly(manager: ConversationManager, record_property: Any) -> None:
    tried = _fuzz(manager, examples=10_000)
    record_property("inputs_tried", tried)
    print(f"bad inputs tried: {tried}")
    assert tried >= 10_000
