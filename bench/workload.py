"""Deterministic chat text and conversations for the benchmarks (fixed seeds, no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from conversation_store import Conversation, Message
from conversation_store.ids import new_message_id

# Message lengths: 200 to 400 characters in steps of 25. A small set of lengths, because the
# local server compiles every distinct filter predicate (~30 ms, 100 cached) and the append's
# predicate holds a number that depends on the message size (see docs/benchmarks.md).
LENGTHS = tuple(range(200, 401, 25))
_TEXT = (
    "the a to of and in is it you that for on with as are this be can your at or have from "
    "not by will we an but if do which all more about how so what when there one up use out "
    "time travel plan hotel train ticket flight Tokyo Kyoto budget museum dinner route day "
    "weather morning evening booking price station garden temple market walk minutes hours "
    "recommend option itinerary suggest check sure great here next also first then later"
)
_WORDS = _TEXT.split()


def message_text(rng: random.Random, length: int | None = None) -> str:
    """A sentence-like text of `length` characters (default: one of LENGTHS) drawn from `rng`."""
    target = length if length is not None else rng.choice(LENGTHS)
    words: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    text = " ".join(words)[: target - 1]
    if text.endswith(" "):
        text = text[:-1] + "s"
    return text[0].upper() + text[1:] + "."


def role_of(number: int) -> str:
    """Message 1 is the user's, message 2 the assistant's, and so on."""
    return "user" if number % 2 else "assistant"


def tokens_of(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class TextSource:
    """Texts for growing conversations: `filler` varies, `window(k)` is the same in every run.

    The measured appends of every position use the same texts, so byte differences between
    positions come from the store, not from the text.
    """

    seed: int = 20250124

    def __post_init__(self) -> None:
        self._filler = random.Random(self.seed)

    def filler(self) -> str:
        return message_text(self._filler)

    def window(self, k: int) -> str:
        return message_text(random.Random(self.seed * 1000 + k))


def prebuilt_conversation(
    customer_id: str, conversation_id: str, count: int, texts: TextSource
) -> Conversation:
    """A conversation of `count` messages built in memory, to store with one create call."""
    messages = [
        Message(
            role=role_of(n),  # type: ignore[arg-type]
            content=(text := texts.filler()),
            tokens=tokens_of(text),
            id=new_message_id(),
        )
        for n in range(1, count + 1)
    ]
    return Conversation(
        id=conversation_id,
        customer_id=customer_id,
        session_id="bench",
        title=f"Bench {conversation_id}",
        message_count=count,
        total_tokens=sum(m.tokens or 0 for m in messages),
        messages=messages,
    )
