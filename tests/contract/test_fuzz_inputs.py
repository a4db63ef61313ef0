"""Generated hostile input over every public manager call and the import format: always an
InvalidInputError, never another exception, and the customer's export stays byte-identical.

The generator draws code points (lone surrogates, control characters), integers beyond what
the stores keep exactly, nesting deeper than MAX_JSON_DEPTH (up to thousands of levels) and
dates outside the years 1000..9999. Each input is one call with exactly one hostile
argument, so the only right answer is InvalidInputError. `make test` tries 150 inputs per
backend; `make soak` runs 10,000 per backend and prints the counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    Message,
)
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES, MAX_JSON_DEPTH

CUSTOMER = "alice"
Call = Callable[[ConversationManager], object]

# -- hostile values ---------------------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
controls = st.one_of(st.characters(min_codepoint=0, max_codepoint=0x1F), st.just("\x7f"))
# Text holding at least one lone surrogate: refused in every string field.
unencodable = st.tuples(st.text(max_size=8), surrogates, st.text(max_size=8)).map("".join)
# Ids holding a control character, a lone surrogate, a reserved form or too many bytes.
bad_ids = st.one_of(
    unencodable,
    st.tuples(st.text(min_size=1, max_size=8), controls).map("".join),
    st.sampled_from(["", " x", "x ", ".", "..", "a/b", "a\\b", "a?b", "a#b"]),
    st.integers(1, 4).map(lambda n: "é" * (127 + n)),  # over 255 bytes of UTF-8
    st.one_of(st.integers(), st.none(), st.binary(max_size=4)),
)
bad_conversation_ids = st.one_of(
    bad_ids,
    st.integers(0, 2**40).map(lambda n: f"c_x:{n}"),  # a Cosmos segment id
)
bad_customer_ids = st.one_of(bad_ids, st.text(max_size=12).map(lambda t: f"_share:{t}x"))
huge_integers = st.one_of(
    st.integers(min_value=2**53), st.integers(max_value=-(2**53)), st.just(2**63 - 1)
)
bad_counts = st.one_of(
    st.integers(min_value=2**31), st.integers(max_value=-1), st.just(2**63), st.floats()
)


def _nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


deep_values = st.integers(MAX_JSON_DEPTH, 3_000).map(_nested)
bad_json_values = st.one_of(
    unencodable,
    huge_integers,
    deep_values,
    st.just(float("nan")),
    st.just(float("inf")),
    unencodable.map(lambda key: {key: 1}),
    st.just({"set": {1, 2}}),
)
# The hostile JSON a Message or Conversation model still holds: pydantic itself refuses a set
# and nesting beyond about 250 levels, so the models never hold those.
storable_bad_json = st.one_of(
    unencodable,
    huge_integers,
    st.integers(MAX_JSON_DEPTH, 200).map(_nested),
    unencodable.map(lambda key: {key: 1}),
)
bad_metadata = st.one_of(
    bad_json_values.map(lambda value: {"k": value}),
    st.sampled_from(["not a mapping", ["a"], 7]),
)
# External ids: any text but a lone surrogate, NUL, nothing, or more than 255 characters.
bad_external_ids = st.one_of(
    unencodable,
    st.tuples(st.text(max_size=8), st.just("\x00"), st.text(max_size=8)).map("".join),
    st.sampled_from(["", "x" * 256]),
    st.one_of(st.integers(), st.binary(max_size=4), st.lists(st.text(), max_size=2)),
)
# A listing's metadata filter: one (key, JSON scalar) pair, nothing else.
bad_metadata_filters = st.one_of(
    st.one_of(unencodable, huge_integers, deep_values, st.just(float("nan")), st.just({})).map(
        lambda value: ("k", value)
    ),
    unencodable.map(lambda key: (key, 1)),
    st.sampled_from(["k", ("k",), ("k", 1, 2), {"k": 1}, ("", 1), (1, 1)]),
)
bad_datetimes = st.one_of(
    st.datetimes(max_value=datetime(999, 12, 31), timezones=st.just(UTC)),
    st.just(datetime(1, 1, 1, tzinfo=UTC)),
)
bad_timestamp_texts = st.one_of(
    bad_datetimes.map(lambda d: f"{d.year:04d}-01-01T00:00:00Z"),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",  # before datetime's first instant in UTC
            "9999-12-31T23:59:59-01:00",  # after its last
            "0999-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
        ]
    ),
)
bad_tool_calls = st.one_of(
    st.sampled_from([123, "calls", {"id": "t1"}, [1], [None]]),
    st.just([{"id": 1, "type": "function", "function": {"name": "f", "arguments": "{}"}}]),
    st.just([{"id": "t1", "type": "function", "function": {"name": "f", "arguments": {}}}]),
    st.just([{"id": "t1", "function": "f"}]),
    unencodable.map(lambda t: [{"id": "t1", "function": {"name": t, "arguments": "{}"}}]),
    huge_integers.map(
        lambda n: [{"id": "t1", "function": {"name": "f", "arguments": "{}"}, "n": n}]
    ),
)
bad_titles = st.one_of(unencodable, st.sampled_from(["", "   ", "t" * 201, 5]))

# -- calls, each with exactly one hostile argument ---------------------------------------------


@dataclass
class Stage:
    """What the generated calls address: a stored conversation of CUSTOMER and its message."""

    conversation_id: str
    message_id: str
    tried: dict[str, int] = field(default_factory=dict)


def _message(**change: Any) -> Message:
    values: dict[str, Any] = {"id": "m_fuzz", "role": "user", "content": "fine", **change}
    return Message.model_validate(values)


def _append(stage: Stage, **change: Any) -> Call:
    call = {"role": "user", "content": "fine", **change}
    return lambda m: m.append_message(stage.conversation_id, CUSTOMER, **call)


def _document(stage: Stage, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A valid import document of a new conversation with `value` put at `path`."""
    document: dict[str, Any] = {
        "id": "c_fuzz_import",
        "customer_id": CUSTOMER,
        "title": "t",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "messages": [
            {"id": "m_1", "role": "user", "content": "q", "timestamp": "2025-01-01T00:00:00Z"}
        ],
    }
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def _json_ready(document: dict[str, Any]) -> bool:
    try:
        json.dumps(document)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def _deep_json_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def _not_bytes(value: object) -> bool:
    """A document's bytes are read as UTF-8 text (pydantic's lax mode), so bytes may well make
    a valid id: JSON documents hold none."""
    return not isinstance(value, bytes)


def _import_calls(stage: Stage) -> st.SearchStrategy[Call]:
    message = ("messages", 0)
    paths: list[tuple[tuple[str | int, ...], st.SearchStrategy[Any]]] = [
        (("id",), bad_conversation_ids.filter(_not_bytes)),
        (("customer_id",), bad_customer_ids.filter(_not_bytes)),
        (("title",), bad_titles),
        (("summary",), st.one_of(unencodable, st.just("s" * 2_001))),
        (("session_id",), unencodable),
        (("persona",), unencodable),
        (("metadata",), bad_metadata.filter(lambda v: isinstance(v, dict))),
        (("created_at",), bad_timestamp_texts),
        (("updated_at",), bad_timestamp_texts),
        (("message_count",), st.integers(min_value=2**53)),
        (("total_tokens",), st.integers(min_value=2**53)),
        (("schema_version",), st.integers(min_value=2**53)),
        (("ttl",), st.one_of(st.integers(min_value=2**31), st.integers(max_value=0))),
        (("extra_field",), storable_bad_json),
        ((*message, "id"), bad_ids.filter(lambda v: v is not None and _not_bytes(v))),
        (
            (*message, "content"),
            st.one_of(unencodable, st.just("x" * (DEFAULT_MAX_CONTENT_BYTES + 1))),
        ),
        ((*message, "timestamp"), bad_timestamp_texts),
        ((*message, "tokens"), bad_counts.filter(lambda v: isinstance(v, int))),
        ((*message, "metadata"), bad_metadata.filter(lambda v: isinstance(v, dict))),
        ((*message, "tool_calls"), bad_tool_calls),
        ((*message, "name"), unencodable),
        ((*message, "tool_call_id"), unencodable),
        ((*message, "extra"), storable_bad_json),
    ]
    documents = st.one_of(
        *[
            st.tuples(st.just(path), values).map(lambda pv: _document(stage, *pv))
            for path, values in paths
        ]
    )
    as_text = documents.filter(_json_ready).map(json.dumps)
    texts = st.one_of(
        as_text,
        st.integers(1_000, 200_000).map(_deep_json_text),
        st.integers(40, 3_000).map(
            lambda n: json.dumps(_document(stage, ("metadata",), {})).replace(
                '"metadata": {}', '"metadata": ' + '{"k": ' * n + "1" + "}" * n
            )
        ),
    )
    return st.one_of(documents, texts).map(lambda data: lambda m: m.import_conversations(data))


def _conversation_calls(stage: Stage) -> st.SearchStrategy[Call]:
    """save_conversation and sync_conversation of a conversation holding one hostile field."""
    fields = st.one_of(
        st.tuples(st.just("title"), bad_titles.filter(lambda v: isinstance(v, str))),
        st.tuples(st.sampled_from(["session_id", "persona", "org_id", "summary"]), unencodable),
        st.tuples(st.just("metadata"), storable_bad_json.map(lambda v: {"k": v})),
        st.tuples(st.sampled_from(["created_at", "updated_at"]), bad_datetimes),
    )
    messages = st.one_of(
        st.builds(lambda c: {"content": c}, unencodable),
        st.builds(lambda t: {"timestamp": t}, bad_datetimes),
        st.builds(lambda n: {"tokens": n}, st.integers(min_value=2**31)),
        st.builds(lambda v: {"metadata": {"k": v}}, storable_bad_json),
        st.builds(lambda n: {"name": n}, unencodable),
    )

    def with_field(change: tuple[str, Any], saved: bool, sync: bool) -> Call:
        def call(m: ConversationManager) -> object:
            doc = _fresh(m, stage, saved=saved)
            setattr(doc, *change)
            return m.sync_conversation(doc) if sync else m.save_conversation(doc)

        return call

    def with_message(change: dict[str, Any], saved: bool, sync: bool) -> Call:
        def call(m: ConversationManager) -> object:
            doc = _fresh(m, stage, saved=saved)
            doc.messages.append(_message(id="m_fuzz_new", **change))
            return m.sync_conversation(doc) if sync else m.save_conversation(doc)

        return call

    return st.one_of(
        st.builds(with_field, fields, st.booleans(), st.booleans()),
        st.builds(with_message, messages, st.booleans(), st.booleans()),
    )


def _fresh(m: ConversationManager, stage: Stage, *, saved: bool) -> Any:
    if saved:  # the stored conversation, loaded: save sends only what changed
        return m.load_conversation(stage.conversation_id, CUSTOMER)
    return m.create_conversation_document(CUSTOMER, "s1", conversation_id="c_fuzz_new")


def _named_calls(stage: Stage) -> dict[str, st.SearchStrategy[Call]]:
    """Hostile calls by the public call (or calls) they exercise."""
    cid, mid = stage.conversation_id, stage.message_id
    return {
        "create_conversation_document": st.one_of(
            bad_customer_ids.map(lambda v: lambda m: m.create_conversation_document(v, "s")),
            unencodable.map(lambda v: lambda m: m.create_conversation_document(CUSTOMER, v)),
            bad_titles.map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", title=v)
            ),
            unencodable.map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", persona=v)
            ),
            unencodable.map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", org_id=v)
            ),
            bad_external_ids.map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", external_id=v)
            ),
            bad_metadata.map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", metadata=v)
            ),
            bad_conversation_ids.filter(lambda v: v is not None).map(
                lambda v: lambda m: m.create_conversation_document(CUSTOMER, "s", conversation_id=v)
            ),
        ),
        "add_message_to_conversation": st.one_of(
            unencodable.map(lambda v: {"content": v}),
            bad_counts.map(lambda v: {"tokens": v}),
            bad_metadata.map(lambda v: {"metadata": v}),
            bad_tool_calls.map(lambda v: {"tool_calls": v}),
            unencodable.map(lambda v: {"tool_call_id": v}),
            unencodable.map(lambda v: {"name": v}),
        ).map(
            lambda kw: (
                lambda m: m.add_message_to_conversation(
                    m.create_conversation_document(CUSTOMER, "s"),
                    "user",
                    kw.pop("content", "fine"),
                    **kw,
                )
            )
        ),
        "append_message": st.one_of(
            unencodable.map(lambda v: _append(stage, content=v)),
            st.just(_append(stage, content="x" * (DEFAULT_MAX_CONTENT_BYTES + 1))),
            bad_counts.map(lambda v: _append(stage, tokens=v)),
            bad_metadata.map(lambda v: _append(stage, metadata=v)),
            bad_tool_calls.map(lambda v: _append(stage, tool_calls=v)),
            unencodable.map(lambda v: _append(stage, tool_call_id=v)),
            unencodable.map(lambda v: _append(stage, name=v)),
            bad_ids.filter(lambda v: v is not None).map(lambda v: _append(stage, message_id=v)),
            bad_conversation_ids.map(
                lambda v: lambda m: m.append_message(v, CUSTOMER, "user", "fine")
            ),
            bad_customer_ids.map(lambda v: lambda m: m.append_message(cid, v, "user", "fine")),
        ),
        "append_messages": st.one_of(
            unencodable.map(lambda v: {"content": v}),
            bad_datetimes.map(lambda v: {"timestamp": v}),
            st.integers(min_value=2**31).map(lambda v: {"tokens": v}),
            storable_bad_json.map(lambda v: {"metadata": {"k": v}}),
            unencodable.map(lambda v: {"name": v}),
            unencodable.map(lambda v: {"id": v}),
            huge_integers.map(lambda v: {"extra": v}),
        ).map(lambda change: lambda m: m.append_messages(cid, CUSTOMER, [_message(**change)])),
        "append_messages_creating": st.one_of(
            bad_titles.map(lambda v: {"title": v}),
            bad_metadata.map(lambda v: {"metadata": v}),
            bad_external_ids.map(lambda v: {"external_id": v}),
            unencodable.map(lambda v: {"session_id": v}),
            st.sampled_from([1, "yes", None]).map(lambda v: {"create_if_missing": v}),
        ).map(
            lambda change: (
                lambda m: m.append_messages(
                    "c_created",
                    CUSTOMER,
                    [_message(id="m_new")],
                    **{"create_if_missing": True, **change},
                )
            )
        ),
        "pop_messages": st.one_of(
            st.one_of(bad_counts, st.sampled_from([0, 1001, True, "1", None])).map(
                lambda v: lambda m: m.pop_messages(cid, CUSTOMER, v)
            ),
            bad_conversation_ids.map(lambda v: lambda m: m.pop_messages(v, CUSTOMER)),
            bad_customer_ids.map(lambda v: lambda m: m.pop_messages(cid, v)),
        ),
        "get_messages": st.one_of(
            st.one_of(bad_counts, st.sampled_from([0, True, "1"])).map(
                lambda v: lambda m: m.get_messages(cid, CUSTOMER, last=v)
            ),
            bad_ids.filter(lambda v: v is not None).map(
                lambda v: lambda m: m.get_messages(cid, CUSTOMER, before=v)
            ),
            bad_conversation_ids.map(lambda v: lambda m: m.get_messages(v, CUSTOMER)),
        ),
        "replace_messages": st.one_of(
            unencodable.map(lambda v: [_message(content=v)]),
            st.integers(min_value=2**31).map(lambda v: [_message(tokens=v)]),
            storable_bad_json.map(lambda v: [_message(metadata={"k": v})]),
            st.just([_message(), _message()]),  # one id twice
            st.sampled_from(["text", [{"role": "user"}], None]),
        ).map(lambda messages: lambda m: m.replace_messages(cid, CUSTOMER, messages)),
        "save_or_sync_conversation": _conversation_calls(stage),
        "import_conversations": _import_calls(stage),
        "load_conversation": st.one_of(
            bad_conversation_ids.map(lambda v: lambda m: m.load_conversation(v, CUSTOMER)),
            bad_customer_ids.map(lambda v: lambda m: m.load_conversation(cid, v)),
            bad_counts.map(lambda v: lambda m: m.load_conversation(cid, CUSTOMER, last=v)),
        ),
        "get_recent_conversations": st.one_of(
            bad_customer_ids.map(lambda v: lambda m: m.get_recent_conversations(v)),
            huge_integers.map(lambda v: lambda m: m.get_recent_conversations(CUSTOMER, v)),
            st.one_of(unencodable, st.sampled_from(["", "e30", "eyJ2IjoxLCJwIjpbXX0="])).map(
                lambda v: lambda m: m.get_recent_conversations(CUSTOMER, continuation=v)
            ),
            st.sampled_from([1, "yes", 0.5]).map(
                lambda v: lambda m: m.get_recent_conversations(CUSTOMER, archived=v)
            ),
            st.sampled_from([1, "yes", 0.5]).map(
                lambda v: lambda m: m.get_recent_conversations(CUSTOMER, pinned=v)
            ),
            st.one_of(unencodable, st.just("s\x00"), st.just("s" * 1_001)).map(
                lambda v: lambda m: m.get_recent_conversations(CUSTOMER, session_id=v)
            ),
            bad_metadata_filters.map(
                lambda v: lambda m: m.get_recent_conversations(CUSTOMER, metadata=v)
            ),
        ),
        "get_conversation_by_external_id": st.one_of(
            bad_external_ids.map(
                lambda v: lambda m: m.get_conversation_by_external_id(CUSTOMER, v)
            ),
            bad_customer_ids.map(lambda v: lambda m: m.get_conversation_by_external_id(v, "x")),
        ),
        "pin_conversation": st.sampled_from([1, 0, None, "yes"]).map(
            lambda v: lambda m: m.pin_conversation(cid, CUSTOMER, v)
        ),
        "delete_conversation": st.one_of(
            bad_conversation_ids.map(lambda v: lambda m: m.delete_conversation(v, CUSTOMER)),
            bad_customer_ids.map(lambda v: lambda m: m.delete_conversation(cid, v)),
        ),
        "rename_conversation": st.one_of(
            bad_titles.map(lambda v: lambda m: m.rename_conversation(cid, CUSTOMER, v)),
            st.one_of(unencodable, st.just("")).map(
                lambda v: lambda m: m.rename_conversation(cid, CUSTOMER, "t", etag=v)
            ),
        ),
        "update_metadata": st.one_of(
            bad_metadata.map(lambda v: lambda m: m.update_metadata(cid, CUSTOMER, v)),
            unencodable.map(lambda v: lambda m: m.update_metadata(cid, CUSTOMER, {}, remove=[v])),
        ),
        "clear_conversation": bad_conversation_ids.map(
            lambda v: lambda m: m.clear_conversation(v, CUSTOMER)
        ),
        "get_history": huge_integers.map(
            lambda v: lambda m: m.get_history(cid, CUSTOMER, max_tokens=v)
        ),
        "search_conversations": st.one_of(
            unencodable.map(lambda v: lambda m: m.search_conversations(CUSTOMER, "w" + v)),
            bad_customer_ids.map(lambda v: lambda m: m.search_conversations(v, "word")),
            huge_integers.map(lambda v: lambda m: m.search_conversations(CUSTOMER, "w", v)),
        ),
        "edit_message": st.one_of(
            unencodable.map(lambda v: lambda m: m.edit_message(cid, CUSTOMER, mid, v)),
            bad_counts.map(lambda v: lambda m: m.edit_message(cid, CUSTOMER, mid, "ok", tokens=v)),
            bad_ids.map(lambda v: lambda m: m.edit_message(cid, CUSTOMER, v, "ok")),
        ),
        "delete_message": bad_ids.map(lambda v: lambda m: m.delete_message(cid, CUSTOMER, v)),
        "fork_conversation": st.one_of(
            bad_ids.map(lambda v: lambda m: m.fork_conversation(cid, CUSTOMER, v)),
            bad_titles.filter(lambda v: v != "").map(
                lambda v: lambda m: m.fork_conversation(cid, CUSTOMER, mid, title=v)
            ),
        ),
        "archive_conversation": st.sampled_from([1, None, "yes"]).map(
            lambda v: lambda m: m.archive_conversation(cid, CUSTOMER, v)
        ),
        "share_conversation": st.one_of(
            bad_counts.map(lambda v: lambda m: m.share_conversation(cid, CUSTOMER, expires_in=v)),
            bad_customer_ids.map(lambda v: lambda m: m.share_conversation(cid, v)),
        ),
        "unshare_conversation": bad_conversation_ids.map(
            lambda v: lambda m: m.unshare_conversation(v, CUSTOMER)
        ),
        "open_shared_conversation": st.one_of(unencodable, st.text(max_size=40), st.integers())
        .filter(lambda v: not (isinstance(v, str) and len(v) == 43))
        .map(lambda v: lambda m: m.open_shared_conversation(v)),
        "set_conversation_ttl": st.one_of(bad_counts, st.integers(max_value=0)).map(
            lambda v: lambda m: m.set_conversation_ttl(cid, CUSTOMER, v)
        ),
        "set_summary": st.one_of(unencodable, st.just("s" * 2_001)).map(
            lambda v: lambda m: m.set_summary(cid, CUSTOMER, v)
        ),
        "export_conversation": st.one_of(unencodable, st.sampled_from(["csv", None])).map(
            lambda v: lambda m: m.export_conversation(cid, CUSTOMER, v)
        ),
        "export_customer": bad_customer_ids.map(lambda v: lambda m: m.export_customer(v)),
        "iter_customer_conversations": bad_customer_ids.map(
            lambda v: lambda m: list(m.iter_customer_conversations(v))
        ),
        "delete_customer_data": bad_customer_ids.map(lambda v: lambda m: m.delete_customer_data(v)),
        "move_customer_data": st.one_of(
            bad_customer_ids.map(lambda v: lambda m: m.move_customer_data(CUSTOMER, v)),
            bad_customer_ids.map(lambda v: lambda m: m.move_customer_data(v, CUSTOMER)),
        ),
        "cleanup_old_conversations": st.one_of(
            st.sampled_from([-1, 10**9, float("nan"), "7"]).map(
                lambda v: lambda m: m.cleanup_old_conversations(v)
            ),
            bad_customer_ids.filter(lambda v: v is not None).map(
                lambda v: lambda m: m.cleanup_old_conversations(0, customer_id=v)
            ),
        ),
        "plan_cleanup": st.one_of(
            st.sampled_from([-1, 10**9, float("nan"), float("inf"), 2**64, "7"]).map(
                lambda v: lambda m: m.plan_cleanup(v)
            ),
            bad_customer_ids.filter(lambda v: v is not None).map(
                lambda v: lambda m: m.plan_cleanup(0, customer_id=v)
            ),
        ),
        "plan_customer_deletion": bad_customer_ids.map(
            lambda v: lambda m: m.plan_customer_deletion(v)
        ),
        "get_stats": st.one_of(
            bad_customer_ids.filter(lambda v: v is not None).map(
                lambda v: lambda m: m.get_stats(v)
            ),
            huge_integers.map(lambda v: lambda m: m.get_stats(CUSTOMER, top=v)),
        ),
    }


def _calls(stage: Stage) -> st.SearchStrategy[tuple[str, Call]]:
    return st.one_of(
        *[st.tuples(st.just(name), calls) for name, calls in _named_calls(stage).items()]
    )


# Calls that take no caller input, or build a manager rather than use one.
NO_INPUT = {"close", "pending_count", "parked_count", "from_settings", "from_url", "store"}
COMBINED = {
    "save_or_sync_conversation": {"save_conversation", "sync_conversation"},
    "append_messages_creating": {"append_messages"},
}


def test_every_public_manager_call_is_fuzzed() -> None:
    public = {name for name in dir(ConversationManager) if not name.startswith("_")}
    fuzzed: set[str] = set()
    for name in _named_calls(Stage("c", "m")):
        fuzzed |= COMBINED.get(name, {name})

    assert public - NO_INPUT == fuzzed


def _export(manager: ConversationManager) -> str:
    """The customer's export without its one line that changes each time (`exported_at`)."""
    lines = manager.export_customer(CUSTOMER).splitlines(keepends=True)
    return "".join(line for line in lines if '"exported_at"' not in line)


def _stage(manager: ConversationManager) -> Stage:
    doc = manager.create_conversation_document(CUSTOMER, "s1", title="kept", metadata={"k": 1})
    message = manager.add_message_to_conversation(doc, "user", "original word")
    manager.add_message_to_conversation(doc, "assistant", "an answer", tokens=3)
    manager.save_conversation(doc)
    return Stage(doc.id, message.id or "")


@dataclass
class FuzzReport:
    tried: int = 0
    untyped: list[str] = field(default_factory=list)
    corrupted: int = 0
    by_call: dict[str, int] = field(default_factory=dict)


def _fuzz(manager: ConversationManager, examples: int) -> FuzzReport:
    """Try `examples` generated hostile calls; each must raise InvalidInputError and leave
    the export byte-identical."""
    stage = _stage(manager)
    before = _export(manager)
    report = FuzzReport()

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(_calls(stage))
    def check(named: tuple[str, Call]) -> None:
        name, call = named
        report.tried += 1
        report.by_call[name] = report.by_call.get(name, 0) + 1
        try:
            call(manager)
        except InvalidInputError:
            pass
        except Exception as exc:  # counted, then reported by _assert_clean
            report.untyped.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        else:
            report.untyped.append(f"{name}: accepted")
        if _export(manager) != before:
            report.corrupted += 1
            raise AssertionError(f"{name} changed the store")

    check()
    return report


def _assert_clean(report: FuzzReport, examples: int) -> None:
    print(
        f"bad inputs tried: {report.tried}, untyped errors: {len(report.untyped)}, "
        f"corrupted stores: {report.corrupted}, calls: {len(report.by_call)}"
    )
    assert report.untyped == []
    assert report.corrupted == 0
    assert report.tried >= examples


def test_generated_bad_input(manager: ConversationManager) -> None:
    _assert_clean(_fuzz(manager, examples=150), 150)


@pytest.mark.soak
@pytest.mark.timeout(3_600)  # 10,000 calls, each followed by an export, on the Cosmos server
def test_generated_bad_input_nightly(manager: ConversationManager, record_property: Any) -> None:
    report = _fuzz(manager, examples=10_000)
    record_property("inputs_tried", report.tried)
    record_property("untyped_errors", len(report.untyped))
    record_property("corrupted_stores", report.corrupted)
    _assert_clean(report, 10_000)


INJECTIONS = [
    "' OR 1=1 --",
    '" OR ""="',
    "c.customer_id",
    "* SELECT * FROM c *",
    "@customer_id",
    "'; DROP TABLE conversations; --",
    "${jndi:x}",
    "\u202e",
    "%00",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_looking_ids_are_legal_and_find_nothing(
    manager: ConversationManager, value: str
) -> None:
    stage = _stage(manager)
    before = _export(manager)

    for attempt in (
        lambda: manager.load_conversation(value, CUSTOMER),
        lambda: manager.load_conversation(stage.conversation_id, value),
        lambda: manager.append_message(value, CUSTOMER, "user", "fine"),
    ):
        with pytest.raises(ConversationNotFoundError):
            attempt()
    assert manager.get_recent_conversations(value).items == []
    assert _export(manager) == before


@pytest.mark.capability("search")
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(query=st.text(max_size=60))
def test_any_search_text_is_a_typed_error_or_alices_hits(
    manager: ConversationManager, query: str
) -> None:
    if not manager.get_recent_conversations(CUSTOMER).items:
        for owner in (CUSTOMER, "mallory"):
            doc = manager.create_conversation_document(owner, "s1")
            manager.add_message_to_conversation(doc, "user", 'tokyo "NEAR" * OR x:y ^ -z')
            manager.save_conversation(doc)
    try:
        hits = manager.search_conversations(CUSTOMER, query)
    except InvalidInputError:
        return
    alices = {c.id for c in manager.get_recent_conversations(CUSTOMER).items}
    assert {h.conversation_id for h in hits} <= alices
