"""Pure statistics of one customer's conversations, for the Insights page's charts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from conversation_store import Conversation, ConversationSummary

from .sidebar_groups import display_title


@dataclass(frozen=True)
class Insights:
    """Counts, messages per local day (oldest first) and tokens per conversation (largest first)."""

    conversation_count: int
    message_count: int
    total_tokens: int
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
    """Statistics from listed summaries (counts, tokens) and loaded conversations (days).

    `conversations` may be fewer than `summaries` (only the newest are loaded): the totals
    come from the summaries, the per-day counts from the messages actually loaded.
    """
    days = Counter(m.timestamp.astimezone(tz).date() for c in conversations for m in c.messages)
    ranked = sorted(summaries, key=lambda s: (-s.total_tokens, s.id))[:top]
    return Insights(
        conversation_count=len(summaries),
        message_count=sum(s.message_count for s in summaries),
        total_tokens=sum(s.total_tokens for s in summaries),
        messages_per_day=sorted(days.items()),
        tokens_per_conversation=[(_unique_title(s, ranked), s.total_tokens) for s in ranked],
    )


def _unique_title(summary: ConversationSummary, ranked: Sequence[ConversationSummary]) -> str:
    # Charts group bars by label, so two conversations with one title need distinct labels.
    title = display_title(summary, max_chars=30)
    same = [s for s in ranked if display_title(s, max_chars=30) == title]
    return title if len(same) == 1 else f"{title} ({summary.id[-6:]})"
