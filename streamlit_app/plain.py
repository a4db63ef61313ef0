"""User text shown as typed: escaped for Streamlit's Markdown (titles, button labels) and for
HTML, and search terms marked in a snippet. Pure, so it tests without a browser."""

from __future__ import annotations

import re
import string

_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_WORD = re.compile(r"\w+")


def markdown_literal(text: str) -> str:
    """`text` for a Markdown body or label that shows it literally: every ASCII punctuation
    character backslash-escaped (CommonMark allows it for all of them), line breaks kept."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return "  \n".join(escaped.splitlines()) if "\n" in escaped else escaped


def highlighted(snippet: str, query: str) -> str:
    """`snippet` as literal Markdown with the words of `query` in bold (case-insensitive)."""
    terms = {word.casefold() for word in _WORD.findall(query)}
    if not terms:
        return markdown_literal(snippet)
    pieces: list[str] = []
    position = 0
    for match in _WORD.finditer(snippet):
        word = match.group(0)
        if not any(word.casefold().startswith(term) for term in terms):
            continue
        pieces.append(markdown_literal(snippet[position : match.start()]))
        pieces.append(f"**{markdown_literal(word)}**")
        position = match.end()
    pieces.append(markdown_literal(snippet[position:]))
    return "".join(pieces)
