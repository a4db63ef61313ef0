"""Pure chart data of one customer's recent conversations, for the Insights page.

The page's totals come from `ConversationManager.get_stats`, over every conversation; the
charts need message timestamps in the browser's time zone and titles, so they are drawn from
the newest conversations only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

from conversation_store import Conversation, ConversationSummary

from .sidebar_groups import display_title


@dataclass(frozen=True)
class Insights:
    """Messages per local day (oldest first) and tokens per conversation (largest first)."""

    messages_per_day: list[tuple[date, int]]
    tokens_per_conversation: list[tuple[str, int]]

    def messages_per_day_chart(self) -> dict[str, list[str] | list[int]]:
        return {
            "day": [day.isoformat() for day, _ in self.messages_per_day],
            "messages": [count for _, count in self.messages_per_day],
        }

    def tokens_per_conversation_chart(self) -> dict[str, list[str] | list[int]]:
        return {
            "conversation": [title for title, _ in self.tokens_per_conversation],
            "tokens": [tokens for _, tokens in self.tokens_per_conversation],
        }


def every_day(
    messages_per_day: Sequence[tuple[date, int]], *, min_days: int = 7
) -> dict[str, list[str] | list[int]]:
    """Chart data with a bar for every day from the first to the last (0 where none), and at
    least `min_days` days ending on the last, so one busy day is one bar among several."""
    if not messages_per_day:
        return {"day": [], "messages": []}
    counts = dict(messages_per_day)
    last = max(counts)
    first = min(min(counts), last - timedelta(days=min_days - 1))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {"day": [d.isoformat() for d in days], "messages": [counts.get(d, 0) for d in days]}


def compute_insights(
    summaries: Sequence[ConversationSummary],
    conversations: Sequence[Conversation],
    *,
    tz: tzinfo,
    top: int = 20,
) -> Insights:
    """Tokens per conversation from listed summaries, messages per day from loaded
    conversations (`conversations` may be fewer than `summaries`: only the newest are loaded).
    """
    days = Counter(m.timestamp.astimezone(tz).date() for c in conversations for m in c.messages)
    ranked = sorted(summaries, key=lambda s: (-s.total_tokens, s.id))[:top]
    return Insights(
        messages_per_day=sorted(days.items()),
        tokens_per_conversation=[(_unique_title(s, ranked), s.total_tokens) for s in ranked],
    )


def _unique_title(summary: ConversationSummary, ranked: Sequence[ConversationSummary]) -> str:
    # Charts group bars by label, so two conversations with one title need distinct labels.
    title = display_title(summary, max_chars=30)
    same = [s for s in ranked if display_title(s, max_chars=30) == title]
    return title if len(same) == 1 else f"{title} ({summary.id[-6:]})"
