"""Pure windows over a conversation's messages, for the context sent to an LLM.

Only chat messages (`kind="message"`) are sent to a model: reasoning and event items stay
stored in order but every window and `as_chat_messages` leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conversation_store.models import Conversation, Message
from conversation_store.tokens import count_message_tokens

MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, as OpenAI's chat format counts them
CHAT_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


def message_tokens(message: Message) -> int:
    """The message's stored count (counted when it was added, or the caller's), else counted
    now, plus per-message overhead."""
    body = message.tokens
    if body is None:
        body = count_message_tokens(message.content, message.tool_calls)
    return body + MESSAGE_OVERHEAD_TOKENS


def chat_messages(messages: Sequence[Message]) -> list[Message]:
    """The chat messages of `messages`, in order: reasoning and event items left out."""
    return [m for m in messages if m.is_chat]


def as_chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The chat messages as OpenAI-style chat APIs take them: `role`, `content` (text or
    parts), and `name`, `tool_calls`, `tool_call_id` where set; our ids, timestamps,
    metadata and `raw` left out, and so are reasoning and event items."""
    chat = []
    for message in chat_messages(messages):
        data = message.model_dump(mode="json", include=set(CHAT_FIELDS))
        data.setdefault("content", None)
        chat.append(data)
    return chat


def window(
    messages: Sequence[Message],
    *,
    max_messages: int | None = None,
    max_turns: int | None = None,
    max_tokens: int | None = None,
) -> list[Message]:
    """The newest chat messages that satisfy every given limit, oldest first (reasoning and
    event items are never part of a window; with no limit, every chat message).

    A turn starts at each user message. A leading system message is kept (and counted) when
    any limit would otherwise drop it. Tool results are never separated from the assistant
    message that called them: a window never starts with a `tool` message, so a cut that
    would fall between a call and its results drops the results too.
    """
    chat = chat_messages(messages)
    system = chat[0] if chat and chat[0].role == "system" else None
    body = chat[1:] if system else chat
    budget = None if max_tokens is None else max_tokens - (message_tokens(system) if system else 0)
    start = len(body)
    turns = used = 0
    for index in range(len(body) - 1, -1, -1):
        message = body[index]
        if max_messages is not None and len(body) - index > max_messages - (1 if system else 0):
            break
        cost = message_tokens(message)
        if budget is not None and used + cost > budget:
            break
        if max_turns is not None and turns >= max_turns:
            break
        used += cost
        turns += message.role == "user"
        start = index
    while start < len(body) and body[start].role in ("tool", "function"):
        start += 1
    return ([system] if system else []) + body[start:]


def pin_system_message(everything: Sequence[Message], tail: Sequence[Message]) -> list[Message]:
    """`tail`, preceded by the first of `everything` when that is a system message outside it."""
    first = everything[0] if everything else None
    if first is not None and first.role == "system" and len(tail) < len(everything):
        return [first, *tail]
    return list(tail)


def window_settled(
    loaded: Conversation, picked: Sequence[Message], *, max_messages: int | None
) -> bool:
    """Whether reading further back could not change `picked`, the window over `loaded` (a
    conversation loaded with its newest messages): every message is loaded, enough chat
    messages are loaded for `max_messages`, or a limit left out an older loaded message
    (tool results the window drops at its start do not count: their call may be older)."""
    chat = chat_messages(loaded.messages)
    if len(loaded.messages) >= loaded.message_count:
        return True
    if max_messages is not None and len(chat) >= max_messages:
        return True
    has_system = bool(chat) and chat[0].role == "system"
    body = chat[1:] if has_system else chat
    left_out = body[: len(body) - (len(picked) - has_system)]
    return any(m.role not in ("tool", "function") for m in left_out)
