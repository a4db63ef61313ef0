"""The chat page under AppTest, over a real SQLite file injected as the store."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import CID, SECRET, chat_texts, cookie_written, open_buttons, send, settle
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys

from conversation_store import ConversationKey, SQLiteStore

AppFactory = Callable[..., AppTest]


def test_first_visit_stores_nothing_and_gives_the_browser_a_secret_not_in_the_url(
    open_app: AppFactory, db_path
) -> None:
    at = open_app()
    assert not at.exception
    secret = cookie_written(at)
    assert secret is not None and "cid" not in at.query_params
    assert not any(secret in str(element.value) for element in at.main.markdown)
    customer = at.session_state[state_keys.CHAT].customer_id
    assert customer.startswith("anonymous_") and secret not in customer
    with SQLiteStore(db_path) as store:
        assert store.list_conversations(customer_id=customer, limit=10).items == []
    assert any("kept by this browser only" in c.value for c in at.sidebar.caption)


def test_a_returning_browser_writes_no_cookie_again(open_app: AppFactory) -> None:
    assert cookie_written(open_app(SECRET)) is None


def test_each_turn_is_stored_and_the_offline_responder_says_so(
    open_app: AppFactory, db_path
) -> None:
    at = settle(send(open_app(SECRET), "Hello there"))
    assert not at.exception
    texts = chat_texts(at)
    assert texts[0] == ("user", "Hello there")
    assert texts[1][0] == "assistant"
    assert "Offline responder" in texts[1][1] and "Hello there" in texts[1][1]
    with SQLiteStore(db_path) as store:
        [summary] = store.list_conversations(customer_id=CID, limit=10).items
        stored = store.get_conversation(ConversationKey(CID, summary.id))
    assert [(m.role, m.content) for m in stored.messages] == [
        ("user", "Hello there"),
        ("assistant", texts[1][1]),
    ]
    assert stored.title == "Hello there"  # written by the background enricher
    assert stored.session_id and stored.session_id.startswith("s_")
    assert any(c.value == "Saved" for c in at.main.caption)


def test_new_conversation_then_reopen_from_the_sidebar(open_app: AppFactory) -> None:
    at = send(open_app(SECRET), "first conversation")
    at = at.sidebar.button(key="new_conversation").click().run()
    assert chat_texts(at) == []
    at = settle(send(at, "second conversation"))
    assert open_buttons(at) == ["second conversation", "first conversation"]
    at = [b for b in at.sidebar.button if b.key and b.key.startswith("open_")][1].click().run()
    assert chat_texts(at)[0] == ("user", "first conversation")
    assert at.title[0].value == "first conversation"


def test_a_conversation_survives_a_restart(open_app: AppFactory) -> None:
    first = send(open_app(SECRET), "remember me")
    send(first, "and this too")
    again = open_app(SECRET)  # a new session (new store, new script run) over the same file
    assert chat_texts(again) == []
    [open_button] = [b for b in again.sidebar.button if b.key and b.key.startswith("open_")]
    again = open_button.click().run()
    users = [text for role, text in chat_texts(again) if role == "user"]
    assert users == ["remember me", "and this too"]


def test_another_browser_does_not_see_the_history(open_app: AppFactory) -> None:
    send(open_app(SECRET), "private")
    assert open_buttons(open_app()) == []
    assert open_buttons(open_app("T" * 43)) == []
