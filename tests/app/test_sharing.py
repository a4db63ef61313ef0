"""Share links under AppTest: a stranger holding one reads that conversation only, and nothing
derived from the link opens more; expiry, re-share, revoke, old-format and damaged links."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from app_helpers import CID, SECRET, chat_texts, conversation_ids, open_buttons, send, settle
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node
from streamlit_app.shared_view import READ_ONLY, UNAVAILABLE

from conversation_store import SQLiteStore

AppFactory = Callable[..., AppTest]
STRANGER = "X" * 43  # the browser secret of someone the link was given to


def share_token(at: AppTest, expiry: str | None = None) -> tuple[AppTest, str]:
    """Click "Create link" (or "New link") in the share menu; the link shown and its token."""
    if expiry is not None:
        at = at.selectbox(key="share_expiry").select(expiry).run()
    at = at.button(key="share_create").click().run()
    [code] = at.main.code
    assert code.value.startswith("/?share=")  # no browser address under AppTest: relative
    return at, code.value.removeprefix("/?share=")


def nodes(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from nodes(child)


def page_source(at: AppTest) -> str:
    """Everything the page sends to the browser, as text."""
    return "\n".join(str(getattr(node, "proto", "")) for node in nodes(at._tree))


def derived_from(token: str) -> list[str]:
    """Every customer id a stranger could make out of a token."""
    raw = base64.urlsafe_b64decode(token + "=")
    digests = [hashlib.sha256(token.encode()).hexdigest(), raw.hex()]
    return [token, *digests, *(f"{prefix}{d[:32]}" for d in digests for prefix in ("anon_", ""))]


def test_no_share_menu_before_the_conversation_is_stored(open_app: AppFactory) -> None:
    at = open_app(SECRET)
    assert not [b for b in at.button if b.key == "share_create"]
    at = send(at, "now it is stored")
    assert [b.label for b in at.button if b.key == "share_create"] == ["Create link"]


def test_a_stranger_with_the_link_reads_only_that_conversation(
    open_app: AppFactory, db_path: Path
) -> None:
    owner = settle(send(open_app(SECRET), "Another secret"))
    owner = owner.sidebar.button(key="new_conversation").click().run()
    owner = settle(send(send(owner, "Secret recipe"), "More please"))
    shared_id, other_id = conversation_ids(owner)
    owner, token = share_token(owner)
    assert CID not in token and shared_id not in token

    viewer = open_app(STRANGER, query={"share": token})
    assert not viewer.exception
    assert viewer.title[0].value == "Secret recipe"
    assert [role for role, _ in chat_texts(viewer)] == ["user", "assistant"] * 2
    assert chat_texts(viewer)[0] == ("user", "Secret recipe")
    assert [i.value for i in viewer.info] == [READ_ONLY]
    assert not viewer.chat_input  # no input box
    assert not viewer.sidebar.button and not viewer.sidebar.text_input  # no history of theirs
    assert not [b for b in viewer.button if b.key and b.key.startswith("message_menu")]
    source = page_source(viewer)
    assert "More please" in source
    for private in (CID, shared_id, other_id, "Another secret"):
        assert private not in source

    for candidate in derived_from(token):
        stranger = open_app(STRANGER, query={"cid": candidate})
        assert not stranger.exception and open_buttons(stranger) == []
    assert open_buttons(open_app(STRANGER)) == []  # the bare address in the stranger's browser
    assert open_buttons(open_app()) == []  # ... or in a browser without a cookie
    with SQLiteStore(db_path) as store:  # and nothing was moved away from the owner
        assert len(store.list_conversations(customer_id=CID, limit=10).items) == 2


def test_an_id_seen_in_an_export_or_the_database_opens_nothing(open_app: AppFactory) -> None:
    owner = settle(send(open_app(SECRET), "mine"))
    [conversation_id] = conversation_ids(owner)
    for seen in (CID, conversation_id):
        stranger = open_app(STRANGER, query={"cid": seen})
        assert open_buttons(stranger) == [] and "cid" not in stranger.query_params
    assert open_buttons(open_app(SECRET)) == ["mine"]


def test_a_link_can_expire(open_app: AppFactory, db_path: Path) -> None:
    owner = settle(send(open_app(SECRET), "for a week"))
    owner, token = share_token(owner, expiry="for 7 days")
    with SQLiteStore(db_path) as store:
        link = store.get_share_link(hashlib.sha256(token.encode()).hexdigest())
    assert link is not None and link.expires_at is not None
    assert (link.expires_at - link.created_at).days == 7
    assert open_app(query={"share": token}).title[0].value == "for a week"


def test_a_new_link_and_revoke_end_the_old_ones(open_app: AppFactory) -> None:
    owner = settle(send(open_app(SECRET), "shared then revoked"))
    owner, first = share_token(owner)
    owner, second = share_token(owner)
    assert first != second
    assert [e.value for e in open_app(query={"share": first}).error] == [UNAVAILABLE]
    assert not open_app(query={"share": second}).error
    owner = owner.button(key="share_revoke").click().run()
    assert not owner.main.code
    assert [b.label for b in owner.button if b.key == "share_create"] == ["Create link"]
    viewer = open_app(query={"share": second})
    assert [e.value for e in viewer.error] == [UNAVAILABLE]
    assert not viewer.chat_message and not viewer.chat_input


def test_an_old_format_link_has_expired_and_names_nothing_it_opens(
    open_app: AppFactory,
) -> None:
    owner = send(open_app(SECRET), "from before the fix")
    [conversation_id] = conversation_ids(owner)
    old = json.dumps([1, CID, conversation_id, "nonce"]).encode()
    viewer = open_app(STRANGER, query={"share": base64.urlsafe_b64encode(old).decode()})
    [error] = viewer.error
    assert "ask for a new one" in error.value
    assert not viewer.chat_message and not viewer.chat_input


def test_a_damaged_link_says_so_and_leads_back_to_the_app(open_app: AppFactory) -> None:
    viewer = open_app(STRANGER, query={"share": "not-a-token"})
    [error] = viewer.error
    assert error.value.startswith("This share link cannot be opened") and "malformed" in error.value
    assert not viewer.chat_input
    [back] = viewer.get("link_button")
    assert back.proto.label == "Start your own conversation" and back.proto.url == "/"
