"""Pure search semantics, shared by every store so all backends find the same messages.

A query is split into terms (runs of letters and digits, lowercased). A message matches when
its content holds every term at the start of a word: "tok" finds "Tokyo", "yo" does not.
SQLite runs this as an FTS5 prefix query; memory and Cosmos DB check it in Python (Cosmos
DB's `CONTAINS` narrows the candidates first).
"""

from __future__ import annotations

import re

from conversation_store.exceptions import InvalidInputError

MAX_QUERY_CHARS = 200
MAX_TERMS = 10
SNIPPET_CHARS = 160
_TERM = re.compile(r"\w+")


def search_terms(query: object) -> list[str]:
    """The distinct lowercased terms of `query`, in order.

    Raises InvalidInputError for a non-string, an over-long query, too many terms, or a query
    with no letters or digits at all.
    """
    if not isinstance(query, str):
        raise InvalidInputError(f"search query must be a string, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"search query is longer than {MAX_QUERY_CHARS} characters")
    terms = list(dict.fromkeys(term.lower() for term in _TERM.findall(query)))
    if not terms:
        raise InvalidInputError("search query needs at least one letter or digit")
    if len(terms) > MAX_TERMS:
        raise InvalidInputError(f"search query has more than {MAX_TERMS} terms")
    return terms


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
