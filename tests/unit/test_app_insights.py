"""Insights charts: messages per local day and tokens per conversation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from streamlit_app.insight_data import compute_insights

from conversation_store import Conversation, ConversationSummary, Message


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 1, day, hour, tzinfo=UTC)


def summary(cid: str, title: str | None, messages: int, tokens: int) -> ConversationSummary:
    return ConversationSummary(
        id=cid,
        customer_id="u",
        title=title,
        created_at=at(1),
        updated_at=at(2),
        message_count=messages,
        total_tokens=tokens,
    )


def conversation(cid: str, *times: datetime) -> Conversation:
    return Conversation(
        id=cid,
        customer_id="u",
        messages=[Message(role="user", content="x", timestamp=t) for t in times],
    )


def test_counts_days_and_tokens() -> None:
    summaries = [
        summary("c_aaa111", "Tokyo", 3, 30),
        summary("c_bbb222", None, 1, 50),
        summary("c_ccc333", "Tokyo", 2, 10),
    ]
    conversations = [
        conversation("c_aaa111", at(20), at(20, 23), at(22)),
        conversation("c_bbb222", at(22)),
    ]
    insights = compute_insights(summaries, conversations, tz=UTC)
    assert insights.messages_per_day == [(date(2025, 1, 20), 2), (date(2025, 1, 22), 2)]
    assert insights.tokens_per_conversation == [
        ("New conversation", 50),
        ("Tokyo (aaa111)", 30),
        ("Tokyo (ccc333)", 10),
    ]
    assert insights.messages_per_day_chart() == {
        "day": ["2025-01-20", "2025-01-22"],
        "messages": [2, 2],
    }
    assert insights.tokens_per_conversation_chart()["tokens"] == [50, 30, 10]


def test_days_are_local() -> None:
    insights = compute_insights(
        [summary("c_1", "t", 1, 1)], [conversation("c_1", at(20, 23))], tz=ZoneInfo("Asia/Tokyo")
    )
    assert insights.messages_per_day == [(date(2025, 1, 21), 1)]


def test_empty() -> None:
    insights = compute_insights([], [], tz=UTC)
    assert insights.messages_per_day == [] and insights.tokens_per_conversation == []
