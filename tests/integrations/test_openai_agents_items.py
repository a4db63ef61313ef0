"""Items to messages and back, for any item: what is stored reads back as the same JSON, and
what cannot be stored is refused with a typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("agents")

from hypothesis import given, settings
from hypothesis import strategies as st

from conversation_store import InvalidInputError, Message
from conversation_store.integrations.openai_agents import item_to_message, message_to_item
from conversation_store.validation import DEFAULT_MAX_CONTENT_BYTES, validate_message

PNG = "data:image/png;base64,iVBORw0KGgo="
words = st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)
parts = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["input_text", "output_text"]), "text": words}),
    st.fixed_dictionaries({"type": st.just("refusal"), "refusal": words}),
    st.fixed_dictionaries(
        {"type": st.just("input_image"), "detail": st.sampled_from(["auto", "low", "high"])},
        optional={
            "image_url": st.sampled_from([PNG, "https://example.com/a.png"]),
            "file_id": words,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("input_file")},
        optional={"file_id": words, "file_data": st.just(PNG), "filename": words},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("input_audio"),
            "input_audio": st.fixed_dictionaries(
                {"data": st.just("UklGRg=="), "format": st.sampled_from(["wav", "mp3"])}
            ),
        },
    ),
    st.dictionaries(words, json_values, max_size=3),
)
content = words | st.lists(parts, max_size=4)
items = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "developer"]), "content": content},
        optional={"type": st.just("message"), "id": words, "status": st.just("completed")},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("function_call"),
            "call_id": st.text(min_size=1, max_size=8),
            "name": st.text(min_size=1, max_size=8),
            "arguments": words,
        },
        optional={"id": words, "status": st.just("completed")},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("function_call_output"),
            "call_id": st.text(min_size=1, max_size=8),
            "output": words | st.lists(parts, max_size=2),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("reasoning"),
            "id": words,
            "summary": st.lists(
                st.fixed_dictionaries({"type": st.just("summary_text"), "text": words}), max_size=2
            ),
        },
    ),
    st.dictionaries(words, json_values, max_size=4),  # anything else: an event, or refused
)


def stored_and_loaded(message: Message) -> Message:
    """The message as a store writes it and reads it back (the document's JSON)."""
    validate_message(message, max_content_bytes=DEFAULT_MAX_CONTENT_BYTES)
    return Message.model_validate_json(message.model_dump_json())


@settings(max_examples=300, deadline=None)
@given(item=items)
def test_any_item_reads_back_as_the_same_json_or_is_refused(item: dict[str, Any]) -> None:
    try:
        message = stored_and_loaded(item_to_message(item))  # type: ignore[arg-type]
    except InvalidInputError:
        return
    assert message_to_item(message) == json.loads(json.dumps(item))
    if message.kind == "message" and message.role not in ("tool", "assistant"):
        assert message.text.strip() or isinstance(message.content, list)


@settings(max_examples=200, deadline=None)
@given(item=items)
def test_well_formed_items_are_never_refused(item: dict[str, Any]) -> None:
    if not {"type", "role"} & item.keys():
        return  # not an item of the SDK's shapes
    stored_and_loaded(item_to_message(item))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "item",
    [
        {"role": "user", "content": "   "},
        {"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "computer_call_output", "call_id": "c", "output": {"type": "input_image"}},
    ],
    ids=["blank", "image-by-file-id", "hosted-call", "hosted-output"],
)
def test_items_without_a_chat_form_are_kept_as_events(item: dict[str, Any]) -> None:
    message = stored_and_loaded(item_to_message(item))  # type: ignore[arg-type]
    assert (message.kind, message.content) == ("event", None)
    by_type = "tool" if item.get("type", "").endswith("_output") else "assistant"
    assert message.role == item.get("role", by_type)
    assert message_to_item(message) == item


def test_a_tool_output_that_is_not_text_is_an_empty_tool_result() -> None:
    item = {"type": "function_call_output", "call_id": "c", "output": {"rows": 2}}
    message = stored_and_loaded(item_to_message(item))  # type: ignore[arg-type]
    assert (message.role, message.kind, message.tool_call_id, message.content) == (
        "tool", "message", "c", ""
    )  # fmt: skip
    assert message_to_item(message) == item


@pytest.mark.parametrize(
    "item",
    [
        {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png,raw"}]},
        {
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": {"data": 1, "format": "wav"}}],
        },
        {"role": "user", "content": "lone \ud800 surrogate"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "n": 2**60},
    ],
    ids=["image-not-base64", "audio-not-text", "surrogate", "integer-too-large"],
)
def test_items_that_cannot_be_stored_are_refused(item: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        stored_and_loaded(item_to_message(item))  # type: ignore[arg-type]


def test_a_message_written_without_an_item_reads_as_a_chat_message() -> None:
    chat = Message(role="assistant", content=[{"type": "text", "text": "Hi"}])  # type: ignore[list-item]
    assert message_to_item(chat) == {"role": "assistant", "content": "Hi"}
    assert message_to_item(Message(role="tool", content="{}", tool_call_id="c")) is None
    assert message_to_item(Message(role="assistant", kind="reasoning")) is None
