"""Pure chart data of one customer's recent conversations, for the Insights page.

The page's totals come from `ConversationManager.get_stats`, over every conversation; the
charts need message timestamps in the browser's time zone and titles, so they are drawn from
the newest conversations only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

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
