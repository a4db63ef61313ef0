"""Issue 14, probed as the holder of a share link would: every query parameter added to the
link, every widget of the page and what the session keeps give them that conversation to read
and nothing else, and a cookie of someone else's making opens no history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from app_helpers import CID, SECRET, conversation_ids, cookie_written, open_buttons, send, settle
from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.shared_view import READ_ONLY
from test_sharing import STRANGER, page_source, share_token

from conversation_store import ConversationManager, SQLiteStore

AppFactory = Callable[..., AppTest]
OLD_ID = "anon_fedcba9876543210fedcba9876543210"  # an anonymous id of the old, URL-kept kind
WRITE_WIDGETS = ("chat_input", "text_input", "text_area", "selectbox", "download_button")


def _shared(open_app: AppFactory) -> tuple[str, str]:
    owner = settle(send(open_app(SECRET), "Only this one"))
    [conversation_id] = conversation_ids(owner)
    _, token = share_token(owner)
    return conversation_id, token


def _store_old_history(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        manager = ConversationManager(store)
        document = manager.create_conversation_document(OLD_ID, "s", title="old history")
        manager.add_message_to_conversation(document, "user", "old history")
        manager.save_conversation(document)


@pytest.mark.parametrize("extra", ["cid", "c", "conversation", "customer", "page"])
def test_parameters_added_to_a_link_give_only_the_read_only_copy(
    open_app: AppFactory, db_path: Path, extra: str
) -> None:
    conversation_id, token = _shared(open_app)
    _store_old_history(db_path)
    for value in (OLD_ID, CID, conversation_id):
        viewer = open_app(STRANGER, query={"share": token, extra: value})
        assert not viewer.exception
        assert [i.value for i in viewer.info] == [READ_ONLY] and not viewer.success
        assert viewer.title[0].value == "Only this one"
        assert not viewer.button and not viewer.sidebar.button  # nothing to click but "leave"
        assert all(not viewer.get(kind) for kind in WRITE_WIDGETS)
    with SQLiteStore(db_path) as store:  # the old history was not moved by the share view
        assert len(store.list_conversations(customer_id=OLD_ID, limit=10).items) == 1
        assert len(store.list_conversations(customer_id=CID, limit=10).items) == 1


def test_the_share_view_keeps_and_sends_nothing_that_names_the_owner(
    open_app: AppFactory,
) -> None:
    conversation_id, token = _shared(open_app)
    viewer = open_app(STRANGER, query={"share": token})

    source = page_source(viewer)
    for private in (CID, conversation_id, hashlib.sha256(token.encode()).hexdigest()):
        assert private not in source
    for key in (state_keys.CHAT, state_keys.BROWSER_SECRET, state_keys.SESSION_ID):
        assert key not in viewer.session_state  # no identity, no chat behind the page
    assert cookie_written(viewer) is None


@pytest.mark.parametrize(
    "cookie", [CID, CID + "x", CID.removeprefix("anonymous_"), OLD_ID, SECRET + "=", " " + SECRET]
)
def test_a_cookie_of_someone_elses_making_opens_no_history(
    open_app: AppFactory, cookie: str
) -> None:
    assert open_buttons(settle(send(open_app(SECRET), "mine"))) == ["mine"]

    stranger = open_app(cookie)

    assert not stranger.exception and open_buttons(stranger) == []
    assert cookie_written(stranger) != SECRET  # a secret of that shape is theirs; else a new one
