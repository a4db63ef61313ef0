"""Finding 10 of issue 18: the insights page names the longest conversation (a button that
opens it), draws one busy day as one bar among several, and puts the largest token bar on top."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from app_helpers import CID, SECRET, chat_texts, literal
from streamlit.testing.v1 import AppTest
from streamlit_app.insight_data import every_day

from conversation_store import ConversationManager, MemoryStore

AppFactory = Callable[..., AppTest]


def seeded() -> tuple[MemoryStore, str]:
    store = MemoryStore()
    manager = ConversationManager(store)
    longest = ""
    for title, turns in (("Short chat", 1), ("The long one", 4), ("Middle", 2)):
        conversation = manager.create_conversation_document(CID, "s", title=title)
        for turn in range(turns):
            manager.add_message_to_conversation(conversation, "user", f"question {turn} " * 20)
        manager.save_conversation(conversation)
        if turns == 4:
            longest = conversation.id
    return store, longest


def test_the_longest_conversation_is_named_and_opens(open_app: AppFactory) -> None:
    store, longest = seeded()
    at = open_app(SECRET, store=store)
    at.switch_page("pages/insights.py").run()
    assert not at.exception
    button = at.main.button(key="open_longest")
    assert literal(button.label) == "The long one"
    at = button.click().run()  # opens it on the chat page
    assert not at.exception
    assert chat_texts(at)[0] == ("user", ("question 0 " * 20).strip())
    assert at.query_params["c"] == longest


def test_the_tokens_chart_puts_the_largest_on_top(open_app: AppFactory) -> None:
    store, _ = seeded()
    at = open_app(SECRET, store=store)
    at.switch_page("pages/insights.py").run()
    charts = [e for e in at.main if e.type == "vega_lite_chart"]
    spec = json.loads(charts[1].proto.spec)  # AppTest has no chart class: read the spec
    assert spec["encoding"]["y"]["sort"] == {"field": "tokens", "order": "descending"}


def test_one_day_is_a_bar_among_a_week() -> None:
    chart = every_day([(date(2025, 1, 20), 3)])
    assert chart["day"] == [f"2025-01-{d}" for d in range(14, 21)]
    assert chart["messages"] == [0, 0, 0, 0, 0, 0, 3]
    gap = every_day([(date(2025, 1, 1), 1), (date(2025, 1, 10), 2)])
    assert len(gap["day"]) == 10 and sum(gap["messages"]) == 3  # the days between are there
    assert every_day([]) == {"day": [], "messages": []}
