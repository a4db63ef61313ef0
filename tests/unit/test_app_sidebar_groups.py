"""Sidebar groups by local day: Today / Yesterday / Previous 7 days / Older."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from streamlit_app.sidebar_groups import display_title, group_conversations, group_label

from conversation_store import ConversationSummary

TODAY = date(2025, 1, 24)


def summary(cid: str, updated: datetime, title: str | None = None) -> ConversationSummary:
    return ConversationSummary(
        id=cid, customer_id="u", title=title, created_at=updated, updated_at=updated
    )


def test_labels_by_age_in_days() -> None:
    assert group_label(date(2025, 1, 24), TODAY) == "Today"
    assert group_label(date(2025, 1, 25), TODAY) == "Today"  # clock skew: not "Older"
    assert group_label(date(2025, 1, 23), TODAY) == "Yesterday"
    assert group_label(date(2025, 1, 22), TODAY) == "Previous 7 days"
    assert group_label(date(2025, 1, 17), TODAY) == "Previous 7 days"
    assert group_label(date(2025, 1, 16), TODAY) == "Older"


def test_groups_keep_order_and_skip_empty_groups() -> None:
    items = [
        summary("c_1", datetime(2025, 1, 24, 9, tzinfo=UTC)),
        summary("c_2", datetime(2025, 1, 24, 1, tzinfo=UTC)),
        summary("c_3", datetime(2025, 1, 20, tzinfo=UTC)),
        summary("c_4", datetime(2024, 12, 1, tzinfo=UTC)),
    ]
    groups = group_conversations(items, today=TODAY, tz=UTC)
    assert [(label, [s.id for s in group]) for label, group in groups] == [
        ("Today", ["c_1", "c_2"]),
        ("Previous 7 days", ["c_3"]),
        ("Older", ["c_4"]),
    ]


def test_days_are_the_browser_local_days() -> None:
    # 01:00 UTC on the 24th is still the 23rd in New York.
    item = summary("c_1", datetime(2025, 1, 24, 1, tzinfo=UTC))
    groups = group_conversations([item], today=TODAY, tz=ZoneInfo("America/New_York"))
    assert groups[0][0] == "Yesterday"


def test_display_title() -> None:
    now = datetime(2025, 1, 24, tzinfo=UTC)
    assert display_title(summary("c", now)) == "New conversation"
    assert display_title(summary("c", now, "  ")) == "New conversation"
    assert display_title(summary("c", now, "x" * 50), max_chars=10) == "xxxxxxxxx…"
