"""Pure: turn caller arguments into validated models (shared by the sync and aio managers)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import JsonValue, ValidationError

from conversation_store.exceptions import InvalidInputError
from conversation_store.ids import new_conversation_id, new_message_id, validate_id
from conversation_store.models import Conversation, Message, ToolCall, utc_now
from conversation_store.tokens import count_message_tokens
from conversation_store.validation import (
    validate_content,
    validate_limit,
    validate_metadata,
    validate_role,
    validate_title,
    validate_tokens,
)

ToolCallInput = ToolCall | Mapping[str, Any]


def scope(conversation_id: object, customer_id: object) -> dict[str, str]:
    """The keyword arguments that address one conversation in a store."""
    return {
        "customer_id": validate_id(customer_id, "customer id"),
        "conversation_id": validate_id(conversation_id, "conversation id"),
    }


def new_conversation(
    customer_id: object,
    session_id: str | None,
    *,
    title: object,
    persona: str | None,
    org_id: str | None,
    metadata: object,
    conversation_id: str | None,
) -> Conversation:
    with invalid_input():
        return Conversation(
            id=new_conversation_id()
            if conversation_id is None
            else validate_id(conversation_id, "conversation id"),
            customer_id=validate_id(customer_id, "customer id"),
            session_id=session_id,
            title=validate_title(title),
            persona=persona,
            org_id=org_id,
            metadata=validate_metadata(metadata),
        )


def new_message(
    role: object,
    content: object,
    *,
    max_content_bytes: int,
    tokens: object = None,
    metadata: Mapping[str, JsonValue] | None = None,
    tool_calls: Sequence[ToolCallInput] | None = None,
    tool_call_id: str | None = None,
    name: str | None = None,
    message_id: str | None = None,
) -> Message:
    checked_role = validate_role(role)
    with invalid_input():
        calls = [ToolCall.model_validate(c) for c in tool_calls] if tool_calls else None
        checked_content = validate_content(
            content, role=checked_role, has_tool_calls=bool(calls), max_bytes=max_content_bytes
        )
        counted = validate_tokens(tokens)
        return Message(
            id=new_message_id() if message_id is None else validate_id(message_id, "message id"),
            role=checked_role,  # type: ignore[arg-type]
            content=checked_content,
            timestamp=utc_now(),
            tokens=count_message_tokens(checked_content, calls) if counted is None else counted,
            metadata=validate_metadata(metadata),
            tool_calls=calls,
            tool_call_id=tool_call_id,
            name=name,
        )


def check_window_limits(*limits: int | None) -> bool:
    """True if any limit is set; raises InvalidInputError for a limit that is not a count."""
    for limit in limits:
        if limit is not None:
            validate_limit(limit, maximum=10_000_000)
    return any(limit is not None for limit in limits)


@contextmanager
def invalid_input() -> Iterator[None]:
    """Report a pydantic validation failure as InvalidInputError."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidInputError(str(exc)) from exc
