"""Pure search semantics, shared by every store so all backends find the same messages.

A query is split into terms (runs of letters and digits, lowercased). A message matches when
its content holds every term at the start of a word: "tok" finds "Tokyo", "yo" does not.
SQLite runs this as an FTS5 prefix query; memory and Cosmos DB check it in Python (Cosmos
DB's `CONTAINS` narrows the candidates first).
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from conversation_store.models import SearchHit

SNIPPET_CHARS = 160
_TERM = re.compile(r"\w+")


def search_terms(query: str) -> list[str]:
    """The distinct lowercased terms of `query`, in order (`validation.validate_query` has
    checked the query before any backend parses it)."""
    return list(dict.fromkeys(term.lower() for term in _TERM.findall(query)))


def _word_start(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}", re.IGNORECASE)


def matches(content: str | None, terms: list[str]) -> bool:
    """True if `content` holds every term at the start of a word."""
    return bool(content) and all(_word_start(term).search(content or "") for term in terms)


def snippet(content: str, terms: list[str], *, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `content` around the first match, on one line, with `…`
    where it was cut."""
    text = " ".join(content.split())
    found = [m.start() for term in terms if (m := _word_start(term).search(text))]
    first = min(found, default=0)
    start = max(0, min(first - width // 4, len(text) - width))
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def search_hit(
    conversation_id: str, title: str | None, message: object, terms: list[str]
) -> SearchHit | None:
    """The hit for a stored message document, or None when its content does not match, or
    when it is no message (a body changed by hand)."""
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if not isinstance(content, str) or not matches(content, terms):
        return None
    return checked_hit(
        {
            "conversation_id": conversation_id,
            "conversation_title": title,
            "message_id": message.get("id"),
            "role": message.get("role"),
            "snippet": snippet(content, terms),
            "timestamp": message.get("timestamp"),
        }
    )


def checked_hit(fields: dict[str, object]) -> SearchHit | None:
    """The hit of these fields, or None when a stored message changed by hand gave them a
    role or timestamp no message has: such a row never hides the other hits."""
    try:
        return SearchHit.model_validate(fields)
    except ValidationError:
        return None
