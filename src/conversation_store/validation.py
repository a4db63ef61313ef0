"""Checks on caller input, done before anything is written."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import ROLES

DEFAULT_MAX_CONTENT_BYTES = 100_000  # ~25k tokens; JSON escaping must still fit a segment
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 32
MAX_TITLE_CHARS = 200
MAX_SUMMARY_CHARS = 2_000


def validate_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return str(role)


def validate_content(
    content: object, *, role: str, has_tool_calls: bool, max_bytes: int
) -> str | None:
    """Content must be non-blank text within `max_bytes` of UTF-8.

    Only an assistant message that carries tool calls may have no content (OpenAI's shape).
    """
    if content is None and role == "assistant" and has_tool_calls:
        return None
    if not isinstance(content, str):
        raise InvalidInputError(f"content must be a string, not {type(content).__name__}")
    if not content.strip():
        raise InvalidInputError("content must not be empty or blank")
    try:
        size = len(content.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError("content is not valid Unicode text") from exc
    if size > max_bytes:
        raise InvalidInputError(f"content is {size} bytes; the limit is {max_bytes}")
    return content


def validate_tokens(tokens: object) -> int | None:
    if tokens is None:
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise InvalidInputError(f"tokens must be a non-negative integer, not {tokens!r}")
    return tokens


def validate_title(title: object) -> str | None:
    if title is None:
        return None
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("title must be a non-blank string or None")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInputError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return title.strip()


def validate_summary(summary: object) -> str | None:
    if summary is None:
        return None
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidInputError("summary must be a non-blank string or None")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise InvalidInputError(f"summary is longer than {MAX_SUMMARY_CHARS} characters")
    return summary.strip()


def validate_archived_filter(archived: object) -> bool | None:
    if archived is not None and not isinstance(archived, bool):
        raise InvalidInputError("archived must be True, False or None")
    return archived


def validate_metadata(metadata: object) -> dict[str, JsonValue]:
    """A JSON object of bounded size and depth, with string keys and no cycles or NaN."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a mapping, not {type(metadata).__name__}")
    _check_json(metadata, depth=0, seen=set())
    encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    loaded: dict[str, JsonValue] = json.loads(encoded)
    return loaded


def _check_json(value: Any, *, depth: int, seen: set[int]) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError("metadata numbers must be finite")
        return
    if isinstance(value, Mapping | list | tuple):
        if id(value) in seen:
            raise InvalidInputError("metadata contains a cycle")
        seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(f"metadata keys must be strings, not {key!r}")
                _check_json(item, depth=depth + 1, seen=seen)
        else:
            for item in value:
                _check_json(item, depth=depth + 1, seen=seen)
        seen.discard(id(value))
        return
    raise InvalidInputError(f"metadata value of type {type(value).__name__} is not JSON")


def validate_limit(limit: object, *, maximum: int = 100) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidInputError(f"limit must be an integer from 1 to {maximum}, not {limit!r}")
    return limit


def validate_continuation(token: object) -> str | None:
    """None (first page) or a non-empty token string as a listing returned it."""
    if token is None:
        return None
    if not isinstance(token, str) or not token or len(token) > 16_384:
        raise InvalidInputError("continuation must be None or a token returned by a listing")
    return token
