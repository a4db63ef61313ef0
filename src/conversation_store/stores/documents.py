"""Pure document logic shared by the stores: windows of stored messages."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Message


def pin_system_message(everything: Sequence[Message], tail: Sequence[Message]) -> list[Message]:
    """`tail`, preceded by the first of `everything` when that is a system message outside it."""
    first = everything[0] if everything else None
    if first is not None and first.role == "system" and len(tail) < len(everything):
        return [first, *tail]
    return list(tail)
