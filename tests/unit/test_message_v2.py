"""Message model v2 (issue 15): typed content parts, role `developer`, empty content where the
model APIs allow it, non-chat kinds, `raw`, token estimates per part, and the larger limit.

Pure: the models, the validation boundary, tokens, windows and export; the stores are covered
by tests/contract/test_message_parts.py and the round trips by test_message_v2_roundtrip.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation_store import Conversation, InvalidInputError, Message
from conversation_store.export import conversation_to_markdown, parse_import
from conversation_store.history import as_chat_messages, chat_messages, window, window_settled
from conversation_store.models import SCHEMA_VERSION, ImagePart, TextPart
from conversation_store.tokens import (
    FILE_TOKENS,
    IMAGE_LOW_DETAIL_TOKENS,
    IMAGE_TOKENS,
    count_message_tokens,
    count_tokens,
)
from conversation_store.validation import (
    DEFAULT_MAX_CONTENT_BYTES,
    MAX_METADATA_BYTES,
    new_conversation,
    new_message,
    validate_message,
)

LIMIT = DEFAULT_MAX_CONTENT_BYTES
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake pixels").decode()
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
EVERY_PART: list[dict[str, Any]] = [
    {"type": "text", "text": "What is in this picture?"},
    {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "file", "file": {"file_id": "file-abc"}},
    {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
    },
    {"type": "refusal", "refusal": "I cannot help with that."},
]


def _message(content: object, role: str = "user", **kwargs: Any) -> Message:
    return new_message(role, content, max_content_bytes=LIMIT, **kwargs)


def test_every_part_type_is_stored_in_openai_shape_exactly_as_given() -> None:
    message = _message(EVERY_PART)

    assert message.model_dump(mode="json")["content"] == EVERY_PART
    assert isinstance(message.content, list) and isinstance(message.content[1], ImagePart)
    assert message.text == "What is in this picture?\nI cannot help with that."


def test_unknown_fields_of_a_part_are_kept() -> None:
    part = {"type": "text", "text": "hi", "annotations": [{"type": "url_citation"}]}

    assert _message([part]).model_dump(mode="json")["content"] == [part]


@pytest.mark.parametrize(
    ("part", "names"),
    [
        ({"type": "input_text", "text": "x"}, "content part type"),
        ({"type": "video", "video": {}}, "content part type"),
        ({"text": "no type"}, "content part type"),
        ("just a string", "content part type"),
        ({"type": "text"}, "malformed"),
        ({"type": "text", "text": 5}, "malformed"),
        ({"type": "image_url", "image_url": "https://example.com/x.png"}, "malformed"),
        ({"type": "image_url", "image_url": {"url": PNG, "detail": "huge"}}, "malformed"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/x"}}, "must be http"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "base64"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "base64"),
        ({"type": "input_audio", "input_audio": {"data": "!!", "format": "wav"}}, "base64"),
        ({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}, "empty"),
        ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": " "}}, "format"),
        ({"type": "file", "file": {"filename": "a.pdf"}}, "file_id or file_data"),
        ({"type": "refusal"}, "malformed"),
        ({"type": "text", "text": "he\ud800llo"}, "Unicode"),
        ({"type": "text", "text": "x", "extra": float("nan")}, "finite"),
        ({"type": "text", "text": "x", "extra": 2**60}, "integers"),
        ({"type": "text", "text": "x", "extra": json.loads("[" * 34 + "]" * 34)}, "nested"),
    ],
)
def test_malformed_or_unknown_parts_are_refused_naming_the_problem(
    part: object, names: str
) -> None:
    with pytest.raises(InvalidInputError, match=names):
        _message([{"type": "text", "text": "fine"}, part])


@pytest.mark.parametrize("content", [{"type": "text", "text": "x"}, 42, b"bytes", ("text",)])
def test_content_that_is_neither_text_nor_a_list_of_parts_is_refused(content: object) -> None:
    with pytest.raises(InvalidInputError, match="content"):
        _message(content)


def test_role_developer_is_accepted() -> None:
    assert _message("Answer in French.", role="developer").role == "developer"


@pytest.mark.parametrize(
    ("role", "content", "extra"),
    [
        ("assistant", None, {"tool_calls": [CALL]}),
        ("assistant", "", {"tool_calls": [CALL]}),
        ("assistant", [], {"tool_calls": [CALL]}),
        ("tool", "", {"tool_call_id": "call_1"}),
        ("tool", [], {"tool_call_id": "call_1"}),
        ("tool", "  ", {"tool_call_id": "call_1"}),
        ("assistant", None, {"kind": "reasoning", "raw": {"type": "reasoning", "summary": []}}),
        ("user", None, {"kind": "event", "metadata": {"event": "joined"}}),
    ],
)
def test_empty_or_absent_content_where_the_model_apis_allow_it(
    role: str, content: object, extra: dict[str, Any]
) -> None:
    message = _message(content, role=role, **extra)

    assert message.content == content


@pytest.mark.parametrize(
    ("role", "content"),
    [
        ("user", None),
        ("user", ""),
        ("user", []),
        ("user", "   "),
        ("system", None),
        ("developer", ""),
        ("assistant", None),
        ("assistant", ""),
        ("tool", None),
    ],
)
def test_content_is_required_elsewhere(role: str, content: object) -> None:
    with pytest.raises(InvalidInputError, match="content"):
        _message(content, role=role)


@pytest.mark.parametrize("kind", ["thought", "", None, "MESSAGE"])
def test_an_unknown_kind_is_refused(kind: object) -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        _message("x", kind=kind)


def test_a_large_tool_output_and_a_large_inline_image_are_accepted() -> None:
    output = _message("x" * (120 * 1024), role="tool", tool_call_id="call_1")
    image = "data:image/png;base64," + base64.b64encode(bytes(150_000)).decode()  # 200 KB
    picture = _message([{"type": "image_url", "image_url": {"url": image}}])

    assert len(output.text) == 120 * 1024
    assert isinstance(picture.content, list) and len(image) == 200_022


def test_content_up_to_the_limit_is_accepted_and_one_byte_more_is_refused_naming_it() -> None:
    assert len(_message("é" * (LIMIT // 2)).text) == LIMIT // 2

    with pytest.raises(InvalidInputError, match=f"limit is {LIMIT}"):
        _message("x" * (LIMIT + 1))
    text = "x" * (LIMIT - len('[{"type":"text","text":""}]') + 1)
    with pytest.raises(InvalidInputError, match=f"limit is {LIMIT}"):
        _message([{"type": "text", "text": text}])


def test_the_limit_is_the_managers_max_content_bytes() -> None:
    with pytest.raises(InvalidInputError, match="limit is 10"):
        new_message("user", "eleven byte", max_content_bytes=10)
    with pytest.raises(InvalidInputError, match=r"raw is .* the limit is 10"):
        new_message("user", "ok", max_content_bytes=10, raw={"big": "raw value"})


def test_raw_is_kept_as_given_and_not_counted_as_metadata() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    bulky = {**item, "blob": "y" * (MAX_METADATA_BYTES + 6 * 1024)}  # a 70 KiB item

    message = _message("hi", raw=bulky)

    assert message.raw == bulky and message.metadata == {}
    assert json.loads(message.model_dump_json())["raw"] == bulky


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("\udfff", "Unicode"),
        ({"n": float("inf")}, "finite"),
        ({"n": -(2**53)}, "integers"),
        ({"k": {1: "non-string key"}}, "keys"),
        ({"deep": json.loads("[" * 40 + "]" * 40)}, "nested"),
        ({"set": {1, 2}}, "not JSON"),
        ("z" * (LIMIT + 1), "raw is"),
    ],
)
def test_hostile_raw_is_refused(raw: object, names: str) -> None:
    with pytest.raises(InvalidInputError, match=names):
        _message("x", raw=raw)


def test_a_very_deep_raw_is_refused_without_recursion_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]

    with pytest.raises(InvalidInputError, match="nested"):
        _message("x", raw=deep)


def test_nul_is_valid_text_in_content_parts_and_raw() -> None:
    message = _message([{"type": "text", "text": "a\x00b"}], raw={"t": "\x00"})

    assert message.text == "a\x00b"


def test_a_built_message_is_checked_like_a_new_one() -> None:
    built = Message(id="m_1", role="user", content=[TextPart(text="hi")], raw={"a": [1]})
    assert validate_message(built, max_content_bytes=LIMIT) is built

    hostile = Message(id="m_2", role="user", content=[TextPart(text="x\ud800")])
    with pytest.raises(InvalidInputError, match="Unicode"):
        validate_message(hostile, max_content_bytes=LIMIT)
    empty = Message(id="m_3", role="user", content=[])
    with pytest.raises(InvalidInputError, match="empty"):
        validate_message(empty, max_content_bytes=LIMIT)


def test_text_parts_are_counted_and_other_parts_estimated() -> None:
    message = _message(EVERY_PART)
    text_tokens = count_tokens("What is in this picture?\nI cannot help with that.")
    audio_tokens = 1  # 8 base64 characters: 6 bytes, the minimum of one token
    expected = text_tokens + IMAGE_LOW_DETAIL_TOKENS + IMAGE_TOKENS + audio_tokens
    expected += 2 * FILE_TOKENS

    assert message.tokens == expected == count_message_tokens(message.content, None)


def test_audio_is_estimated_from_its_length() -> None:
    second = base64.b64encode(bytes(16_000)).decode()  # one second at 128 kbit/s (padded)
    message = _message([{"type": "input_audio", "input_audio": {"data": second, "format": "mp3"}}])

    assert message.tokens == 10


def test_new_conversations_are_schema_version_2() -> None:
    conversation = new_conversation(
        "alice", None, title=None, persona=None, org_id=None, metadata=None, conversation_id=None
    )

    assert SCHEMA_VERSION == 2 and conversation.schema_version == 2


def _conversation(*messages: Message) -> Conversation:
    return Conversation(
        id="c_1", customer_id="alice", messages=list(messages), message_count=len(messages)
    )


def test_windows_and_chat_messages_skip_reasoning_and_event_items() -> None:
    items = [
        _message("You help.", role="system"),
        _message("Hi", role="user"),
        _message(None, role="assistant", kind="reasoning", raw={"type": "reasoning"}),
        _message("Hello!", role="assistant"),
        _message(None, role="user", kind="event", metadata={"event": "typing"}),
    ]

    assert [m.text for m in chat_messages(items)] == ["You help.", "Hi", "Hello!"]
    assert [m.text for m in window(items)] == ["You help.", "Hi", "Hello!"]
    assert [m.text for m in window(items, max_messages=2)] == ["You help.", "Hello!"]
    assert [c["content"] for c in as_chat_messages(items)] == ["You help.", "Hi", "Hello!"]


def test_a_window_is_not_settled_while_skipped_items_hide_older_chat_messages() -> None:
    tail = [_message("a", role="user"), _message(None, role="assistant", kind="reasoning")]
    loaded = _conversation(*tail)
    loaded.message_count = 10

    assert not window_settled(loaded, window(tail, max_messages=2), max_messages=2)
    assert window_settled(loaded, window(tail, max_messages=1), max_messages=1)


def test_a_window_is_not_settled_when_only_tool_results_were_left_out() -> None:
    tail = [
        _message("{}", role="tool", tool_call_id="call_1"),
        _message("Done.", role="assistant"),
    ]
    loaded = _conversation(*tail)
    loaded.message_count = 10
    budget = 1_000

    picked = window(tail, max_tokens=budget)

    assert [m.text for m in picked] == ["Done."]
    assert not window_settled(loaded, picked, max_messages=None)  # its call may be older
    assert window_settled(loaded, window(tail, max_tokens=5), max_messages=None)


def test_chat_messages_carry_their_parts_in_openai_shape() -> None:
    items = [_message(EVERY_PART[:2]), _message("", role="tool", tool_call_id="call_1")]

    assert as_chat_messages(items) == [
        {"role": "user", "content": EVERY_PART[:2]},
        {"role": "tool", "content": "", "tool_call_id": "call_1"},
    ]


def test_markdown_shows_text_parts_and_a_placeholder_for_every_other_part() -> None:
    conversation = _conversation(
        _message(EVERY_PART, role="user"),
        _message(None, role="assistant", kind="reasoning"),
        _message("Be brief.", role="developer"),
    )

    markdown = conversation_to_markdown(conversation)

    for line in [
        "What is in this picture?",
        "[image]",
        "[audio: wav]",
        "[file]",
        "[file: a.pdf]",
        "[refusal] I cannot help with that.",
        "## Assistant · reasoning",
        "## Developer",
    ]:
        assert f"\n{line}\n" in markdown
    assert PNG not in markdown and "JVBE" not in markdown


def test_import_reads_v2_documents_and_validates_their_parts() -> None:
    good = _conversation(_message(EVERY_PART, message_id="m_1")).to_document()
    [imported] = parse_import(json.dumps(good))
    assert imported.messages[0].model_dump(mode="json")["content"] == EVERY_PART

    bad = json.loads(json.dumps(good))
    bad["messages"][0]["content"].append({"type": "hologram"})
    with pytest.raises(InvalidInputError, match="import document #0 is invalid"):
        parse_import(json.dumps(bad))
    bad["messages"][0]["content"][-1] = {"type": "image_url", "image_url": {"url": "x"}}
    with pytest.raises(InvalidInputError, match="http"):
        parse_import(json.dumps(bad))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(EVERY_PART), min_size=1, max_size=6))
def test_any_list_of_valid_parts_survives_json_unchanged(parts: list[dict[str, Any]]) -> None:
    message = _message(parts)
    again = Message.model_validate_json(message.model_dump_json())

    assert again == message
    assert again.model_dump_json() == message.model_dump_json()
