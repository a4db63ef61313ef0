"""Pure statistics over conversation summaries (no message bodies are read)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from conversation_store.models import ConversationSummary, CustomerActivity, Stats, utc_now
from conversation_store.retention import is_expired


def compute_stats(
    summaries: Iterable[ConversationSummary],
    messages_per_day: Mapping[str, int],
    *,
    customer_id: str | None,
    top: int = 5,
) -> Stats:
    """Totals, averages, the longest conversation and the `top` most active customers.

    Expired conversations (TTL) are left out, as every read leaves them out.
    """
    now = utc_now()
    conversations = messages = tokens = 0
    longest: ConversationSummary | None = None
    per_customer: Counter[str] = Counter()
    conversations_per_customer: Counter[str] = Counter()
    for summary in summaries:
        if is_expired(summary.written_at, summary.ttl, now):
            continue
        conversations += 1
        messages += summary.message_count
        tokens += summary.total_tokens
        per_customer[summary.customer_id] += summary.message_count
        conversations_per_customer[summary.customer_id] += 1
        if longest is None or summary.message_count > longest.message_count:
            longest = summary
    ranked = sorted(
        conversations_per_customer,
        key=lambda c: (-per_customer[c], -conversations_per_customer[c], c),
    )[:top]
    return Stats(
        customer_id=customer_id,
        conversations=conversations,
        messages=messages,
        tokens=tokens,
        average_messages=round(messages / conversations, 2) if conversations else 0.0,
        average_tokens=round(tokens / conversations, 2) if conversations else 0.0,
        longest_conversation_id=longest.id if longest else None,
        longest_conversation_messages=longest.message_count if longest else 0,
        most_active_customers=[
            CustomerActivity(
                customer_id=c,
                conversations=conversations_per_customer[c],
                messages=per_customer[c],
            )
            for c in ranked
        ],
        messages_per_day=dict(sorted(messages_per_day.items())),
    )
