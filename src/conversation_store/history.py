"""Pure windows over a conversation's messages, for the context sent to an LLM."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .models import Message

CHARS_PER_TOKEN = 4  # the usual estimate for English text with OpenAI tokenizers
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, as OpenAI's chat format counts them


def estimate_tokens(text: str | None) -> int:
    """A tokenizer-free estimate: ceil(characters / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def message_tokens(message: Message) -> int:
    """The message's own count when known, else the estimate, plus per-message overhead."""
    body = message.tokens if message.tokens is not None else estimate_tokens(message.content)
    return body + MESSAGE_OVERHEAD_TOKENS


def window(
    messages: Sequence[Message],
    *,
    max_messages: int | None = None,
    max_turns: int | None = None,
    max_tokens: int | None = None,
) -> list[Message]:
    """The newest messages that satisfy every given limit, oldest first.

    A turn starts at each user message. A leading system message is kept (and counted) when
    any limit would otherwise drop it. Tool results are never separated from the assistant
    message that called them: a window never starts with a `tool` message.
    """
    system = messages[0] if messages and messages[0].role == "system" else None
    body = list(messages[1:] if system else messages)
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
