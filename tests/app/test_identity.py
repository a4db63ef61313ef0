"""The anonymous identity under AppTest: the browser's cookie brings the history back, a new
browser has none, "Forget me" ends it, and an old `?cid=` link's history moves once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app_helpers import CID, SECRET, cookie_written, open_buttons, send, settle
from streamlit.testing.v1 import AppTest
from streamlit_app.visitor import FORGOTTEN, MOVED, NOTHING_MOVED

from conversation_store import ConversationManager, SQLiteStore

AppFactory = Callable[..., AppTest]
OLD_ID = "anon_0123456789abcdef0123456789abcdef"  # an anonymous id of the old, URL-kept kind


def test_a_returning_visitor_sees_their_history_and_a_new_browser_none(
    open_app: AppFactory,
) -> None:
    first = send(open_app(), "Hello again")  # a browser without a cookie
    secret = cookie_written(first)
    assert secret is not None
    first = send(first, "still me")
    assert cookie_written(first) == secret  # the same secret until the browser holds it
    returning = open_app(secret)  # the same browser, later: it sends the cookie back
    assert open_buttons(returning) == ["Hello again"]
    assert cookie_written(returning) is None  # it already holds it
    assert open_buttons(open_app()) == []  # another browser


def test_forget_me_starts_afresh_and_the_browser_loses_the_history(
    open_app: AppFactory,
) -> None:
    at = settle(send(open_app(SECRET), "forget this"))  # the title is written in the background
    assert open_buttons(at) == ["forget this"]
    at = at.sidebar.button(key="forget_me").click().run()
    assert not at.exception
    assert FORGOTTEN in [s.value for s in at.sidebar.success]
    assert open_buttons(at) == [] and not at.main.chat_message
    replaced = cookie_written(at)
    assert replaced is not None and replaced != SECRET  # the browser's cookie is overwritten
    assert open_buttons(open_app(replaced)) == []
    at = at.run()
    assert FORGOTTEN not in [s.value for s in at.sidebar.success]  # said once


def test_signed_in_users_have_no_forget_me(open_app: AppFactory) -> None:
    at = open_app(SECRET)
    assert at.sidebar.button(key="forget_me")
    at.user = {"is_logged_in": True, "sub": "sub-1", "name": "Ada"}
    at = at.run()
    assert not [b for b in at.sidebar.button if b.key == "forget_me"]


def test_an_old_link_moves_its_history_once_and_says_so(
    open_app: AppFactory, db_path: Path
) -> None:
    with SQLiteStore(db_path) as store:
        manager = ConversationManager(store)
        for title in ("old one", "old two"):
            document = manager.create_conversation_document(OLD_ID, "s", title=title)
            manager.add_message_to_conversation(document, "user", title)
            manager.save_conversation(document)

    at = open_app(SECRET, query={"cid": OLD_ID})
    assert not at.exception
    assert [s.value for s in at.main.success] == [MOVED]
    assert "cid" not in at.query_params
    assert sorted(open_buttons(at)) == ["old one", "old two"]
    with SQLiteStore(db_path) as store:
        assert store.list_conversations(customer_id=OLD_ID, limit=10).items == []
        assert len(store.list_conversations(customer_id=CID, limit=10).items) == 2
    at = at.run()
    assert not at.main.success  # said once

    again = open_app("Y" * 43, query={"cid": OLD_ID})  # the old link, once more, elsewhere
    assert [i.value for i in again.main.info] == [NOTHING_MOVED]
    assert open_buttons(again) == [] and "cid" not in again.query_params
    assert sorted(open_buttons(open_app(SECRET))) == ["old one", "old two"]
