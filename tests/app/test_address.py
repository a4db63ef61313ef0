"""Finding 1 of issue 18: the open conversation is in the address (`?c=<id>`); a reload or the
same address reopens it for its owner only; anything else it names opens nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from app_helpers import SECRET, chat_texts, conversation_ids, send
from streamlit.testing.v1 import AppTest
from streamlit_app.url_state import CONVERSATION_PARAM, NOT_OPENED

from conversation_store import ConversationManager, MemoryStore

AppFactory = Callable[..., AppTest]
STRANGER = "T" * 43  # another browser's secret


def notices(at: AppTest) -> list[str]:
    return [i.value for i in at.main.info]


def test_the_address_names_the_open_conversation_and_reopens_it_for_its_owner(
    open_app: AppFactory,
) -> None:
    at = open_app(SECRET)
    assert CONVERSATION_PARAM not in at.query_params  # nothing stored yet
    at = send(at, "remember where I was")
    [conversation_id] = conversation_ids(at)
    assert at.query_params[CONVERSATION_PARAM] == conversation_id
    assert set(at.query_params) == {CONVERSATION_PARAM}  # the id, nothing else

    reloaded = open_app(SECRET, query={CONVERSATION_PARAM: conversation_id})
    assert chat_texts(reloaded)[0] == ("user", "remember where I was")
    assert reloaded.query_params[CONVERSATION_PARAM] == conversation_id
    assert not notices(reloaded)


def test_another_browser_opening_the_address_gets_a_new_conversation(
    open_app: AppFactory,
) -> None:
    owner = send(open_app(SECRET), "owner's secret plans")
    [conversation_id] = conversation_ids(owner)
    stranger = open_app(STRANGER, query={CONVERSATION_PARAM: conversation_id})
    assert not stranger.exception
    assert chat_texts(stranger) == []
    assert notices(stranger) == [NOT_OPENED]
    assert CONVERSATION_PARAM not in stranger.query_params
    page_text = " ".join(str(e.value) for e in stranger.main if hasattr(e, "value"))
    assert "secret plans" not in page_text and conversation_ids(stranger) == []
    # The stranger's own first message starts their own conversation, not the owner's.
    stranger = send(stranger, "mine")
    assert stranger.query_params[CONVERSATION_PARAM] != conversation_id


@pytest.mark.parametrize(
    "value",
    ["", "c_01JD000000000000000000000X", "../../etc/passwd", "x" * 5000, "<script>", "a/b?c#d"],
)
def test_a_missing_or_malformed_id_gives_a_notice_and_a_new_conversation(
    open_app: AppFactory, value: str
) -> None:
    at = open_app(SECRET, store=MemoryStore(), query={CONVERSATION_PARAM: value})
    assert not at.exception
    assert notices(at) == [NOT_OPENED]
    assert chat_texts(at) == [] and at.title[0].value == "New conversation"
    assert CONVERSATION_PARAM not in at.query_params
    assert at.run().main.info == []  # said once, not on every run


def test_new_open_and_delete_keep_the_address_current(open_app: AppFactory) -> None:
    store = MemoryStore()
    at = send(open_app(SECRET, store=store), "first")
    at = at.sidebar.button(key="new_conversation").click().run()
    assert CONVERSATION_PARAM not in at.query_params
    at = send(at, "second")
    second, first = conversation_ids(at)
    assert at.query_params[CONVERSATION_PARAM] == second
    at = at.sidebar.button(key=f"open_{first}").click().run()
    assert at.query_params[CONVERSATION_PARAM] == first
    at = at.sidebar.button(key=f"delete_{first}").click().run()
    at = at.sidebar.button(key=f"confirm_delete_{first}").click().run()
    assert CONVERSATION_PARAM not in at.query_params
    assert (
        ConversationManager(store)
        .get_recent_conversations(at.session_state["chat_session"].customer_id)
        .items[0]
        .id
        == second
    )


def test_a_stale_address_sent_back_does_not_reopen_the_conversation_left(
    open_app: AppFactory,
) -> None:
    store = MemoryStore()
    at = send(open_app(SECRET, store=store), "left behind")
    [left] = conversation_ids(at)
    at = at.sidebar.button(key="new_conversation").click().run()
    # A rerun that the browser sends before it took in the new address still says ?c=left.
    at.query_params[CONVERSATION_PARAM] = left
    at = send(at, "a fresh start")
    fresh, _ = conversation_ids(at)
    assert fresh != left and at.query_params[CONVERSATION_PARAM] == fresh
    assert [text for role, text in chat_texts(at) if role == "user"] == ["a fresh start"]
