"""Share links under AppTest: create, open read-only, re-share, revoke, damaged links."""

from __future__ import annotations

from collections.abc import Callable

from app_helpers import CID, chat_texts, send, settle
from streamlit.testing.v1 import AppTest
from streamlit_app.shared_view import DAMAGED, UNAVAILABLE

AppFactory = Callable[..., AppTest]
VIEWER = "anon_ffffffffffffffffffffffffffffffff"


def share_token(at: AppTest) -> tuple[AppTest, str]:
    """Click "Create link" (or "New link") in the share menu; the link shown and its token."""
    at = at.button(key="share_create").click().run()
    [code] = at.main.code
    assert code.value.startswith("/?share=")  # no browser address under AppTest: relative
    assert "cid=" not in code.value  # the sharer's own history stays private
    return at, code.value.removeprefix("/?share=")


def test_no_share_menu_before_the_conversation_is_stored(open_app: AppFactory) -> None:
    at = open_app(cid=CID)
    assert not [b for b in at.button if b.key == "share_create"]
    at = send(at, "now it is stored")
    assert [b.label for b in at.button if b.key == "share_create"] == ["Create link"]


def test_a_shared_link_opens_a_read_only_view(open_app: AppFactory) -> None:
    owner = settle(send(send(open_app(cid=CID), "Secret recipe"), "More please"))
    owner, token = share_token(owner)
    viewer = open_app(cid=VIEWER, query={"share": token})
    assert not viewer.exception
    assert viewer.title[0].value == "Secret recipe"
    assert [role for role, _ in chat_texts(viewer)] == ["user", "assistant"] * 2
    assert chat_texts(viewer)[0] == ("user", "Secret recipe")
    assert any("read-only" in i.value for i in viewer.info)
    assert not viewer.chat_input  # no input box
    assert not viewer.sidebar.button and not viewer.sidebar.text_input  # no history of theirs
    assert not [b for b in viewer.button if b.key and b.key.startswith("message_menu")]


def test_a_new_link_and_stop_sharing_revoke_the_old_ones(open_app: AppFactory) -> None:
    owner = settle(send(open_app(cid=CID), "shared then revoked"))
    owner, first = share_token(owner)
    owner, second = share_token(owner)
    assert first != second
    assert [e.value for e in open_app(query={"share": first}).error] == [UNAVAILABLE]
    assert not open_app(query={"share": second}).error
    owner = owner.button(key="share_stop").click().run()
    assert not owner.main.code
    assert [b.label for b in owner.button if b.key == "share_create"] == ["Create link"]
    viewer = open_app(query={"share": second})
    assert [e.value for e in viewer.error] == [UNAVAILABLE]
    assert not viewer.chat_message and not viewer.chat_input


def test_a_damaged_link_says_so_and_leads_back_to_the_app(open_app: AppFactory) -> None:
    viewer = open_app(cid=VIEWER, query={"share": "not-a-token"})
    assert [e.value for e in viewer.error] == [DAMAGED]
    assert not viewer.chat_input
    [back] = viewer.get("link_button")
    assert back.proto.label == "Start your own conversation" and back.proto.url == "/"
