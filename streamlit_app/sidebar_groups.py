"""Group recent conversations by how long ago they were updated, as chat sidebars do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo

from conversation_store import ConversationSummary

from .chat_session import UNTITLED

TODAY = "Today"
YESTERDAY = "Yesterday"
PREVIOUS_7_DAYS = "Previous 7 days"
OLDER = "Older"
GROUP_ORDER = (TODAY, YESTERDAY, PREVIOUS_7_DAYS, OLDER)


def group_label(updated: date, today: date) -> str:
    """The group of a conversation last updated on `updated` (a local date)."""
    age = (today - updated).days
    if age <= 0:
        return TODAY
    if age == 1:
        return YESTERDAY
    if age <= 7:
        return PREVIOUS_7_DAYS
    return OLDER


def group_conversations(
    summaries: Sequence[ConversationSummary], *, today: date, tz: tzinfo
) -> list[tuple[str, list[ConversationSummary]]]:
    """Non-empty groups in display order; each keeps the input order (newest first)."""
    groups: dict[str, list[ConversationSummary]] = {label: [] for label in GROUP_ORDER}
    for summary in summaries:
        local_day = summary.updated_at.astimezone(tz).date()
        groups[group_label(local_day, today)].append(summary)
    return [(label, items) for label, items in groups.items() if items]


def display_title(
    summary: ConversationSummary, *, max_chars: int = 40, untitled: str = UNTITLED
) -> str:
    """The title shown in the sidebar: the stored title, shortened, or `untitled` until the
    enricher (or the user) gives it one."""
    title = (summary.title or "").strip() or untitled
    return title if len(title) <= max_chars else title[: max_chars - 1].rstrip() + "…"
