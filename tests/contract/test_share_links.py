"""Issue 14 contract: share links are opaque random tokens, resolved by the hash the store keeps,
revocable, optionally expiring, and they open a read-only copy of one conversation only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import timedelta

import pytest

from conversation_store import (
    ConversationManager,
    ConversationNotFoundError,
    InvalidInputError,
    ShareLink,
    ShareLinkNotFoundError,
    SupportsShareLinks,
)
from conversation_store.models import utc_now
from conversation_store.validation import require_capability

CUSTOMER = "customer-alice-7"


def _chat(manager: ConversationManager, customer: str = CUSTOMER, *contents: str) -> str:
    doc = manager.create_conversation_document(customer, "s1", title="Shared chat")
    for n, content in enumerate(contents or ("question", "answer")):
        manager.add_message_to_conversation(doc, "user" if n % 2 == 0 else "assistant", content)
    manager.save_conversation(doc)
    return doc.id


def _links(manager: ConversationManager) -> SupportsShareLinks:
    return require_capability(manager.store, SupportsShareLinks, "share links")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_link_opens_a_read_only_copy_that_names_nothing(manager: ConversationManager) -> None:
    conversation_id = _chat(manager, CUSTOMER, "shared question", "shared answer")

    token = manager.share_conversation(conversation_id, CUSTOMER)
    shared = manager.open_shared_conversation(token)

    assert shared.title == "Shared chat" and shared.message_count == 2
    assert [m.content for m in shared.messages] == ["shared question", "shared answer"]
    dumped = shared.model_dump_json()
    assert CUSTOMER not in dumped and conversation_id not in dumped
    assert set(type(shared).model_fields) == {
        "title",
        "created_at",
        "updated_at",
        "message_count",
        "messages",
    }


def test_the_store_keeps_only_the_hash_of_the_token(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)

    token = manager.share_conversation(conversation_id, CUSTOMER)

    assert len(token) == 43 and set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    link = _links(manager).get_share_link(_hash(token))
    assert link is not None
    assert (link.customer_id, link.conversation_id, link.expires_at) == (
        CUSTOMER,
        conversation_id,
        None,
    )
    assert _links(manager).get_share_link(token) is None
    assert manager.load_conversation(conversation_id, CUSTOMER).share_id == _hash(token)


def test_resharing_and_unsharing_revoke_the_older_links(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    first = manager.share_conversation(conversation_id, CUSTOMER)

    second = manager.share_conversation(conversation_id, CUSTOMER)

    with pytest.raises(ShareLinkNotFoundError, match="expired or was revoked"):
        manager.open_shared_conversation(first)
    assert _links(manager).get_share_link(_hash(first)) is None
    assert manager.open_shared_conversation(second).message_count == 2
    manager.unshare_conversation(conversation_id, CUSTOMER)
    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(second)
    assert _links(manager).get_share_link(_hash(second)) is None
    assert manager.load_conversation(conversation_id, CUSTOMER).share_id is None
    manager.unshare_conversation(conversation_id, CUSTOMER)  # nothing left to revoke


def test_an_expiring_link_opens_until_it_expires(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    token = manager.share_conversation(conversation_id, CUSTOMER, expires_in=3600)
    link = _links(manager).get_share_link(_hash(token))
    assert link is not None and link.expires_at is not None
    assert timedelta(0) < link.expires_at - utc_now() <= timedelta(seconds=3600)
    assert manager.open_shared_conversation(token).message_count == 2

    # The same link, expired a second ago (put by the store call the manager uses).
    _links(manager).put_share_link(
        link.model_copy(update={"expires_at": utc_now() - timedelta(seconds=1)})
    )

    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(token)


@pytest.mark.parametrize("expires_in", [0, -5, 2**31, 1.5, "60", True])
def test_a_bad_expiry_is_refused_and_shares_nothing(
    manager: ConversationManager, expires_in: object
) -> None:
    conversation_id = _chat(manager)

    with pytest.raises(InvalidInputError, match="expires_in"):
        manager.share_conversation(conversation_id, CUSTOMER, expires_in=expires_in)  # type: ignore[arg-type]
    assert manager.load_conversation(conversation_id, CUSTOMER).share_id is None


def test_unknown_legacy_and_malformed_tokens(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    manager.share_conversation(conversation_id, CUSTOMER)
    legacy = base64.urlsafe_b64encode(
        json.dumps([1, CUSTOMER, conversation_id, "nonce"]).encode()
    ).decode()

    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(secrets.token_urlsafe(32))
    with pytest.raises(InvalidInputError, match="this link has expired; ask for a new one"):
        manager.open_shared_conversation(legacy.rstrip("="))
    for malformed in ("", "not a token", "x" * 43 + "!", "\ud800" * 43, 42, None):
        with pytest.raises(InvalidInputError, match="share link is malformed"):
            manager.open_shared_conversation(malformed)  # type: ignore[arg-type]


def test_a_link_of_a_deleted_conversation_is_gone_with_it(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    token = manager.share_conversation(conversation_id, CUSTOMER)

    manager.delete_conversation(conversation_id, CUSTOMER)

    assert _links(manager).get_share_link(_hash(token)) is None
    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(token)


@pytest.mark.capability("erasure")
def test_erasing_a_customer_deletes_their_links(manager: ConversationManager) -> None:
    tokens = [manager.share_conversation(_chat(manager), CUSTOMER) for _ in range(2)]
    kept = manager.share_conversation(_chat(manager, "bob"), "bob")

    assert manager.delete_customer_data(CUSTOMER) == 2

    for token in tokens:
        assert _links(manager).get_share_link(_hash(token)) is None
    assert manager.open_shared_conversation(kept).message_count == 2


def test_a_link_whose_header_names_another_link_opens_nothing(
    manager: ConversationManager,
) -> None:
    conversation_id = _chat(manager)
    manager.share_conversation(conversation_id, CUSTOMER)
    stray = secrets.token_urlsafe(32)  # a record the header does not name
    _links(manager).put_share_link(
        ShareLink(token_hash=_hash(stray), customer_id=CUSTOMER, conversation_id=conversation_id)
    )

    with pytest.raises(ShareLinkNotFoundError):
        manager.open_shared_conversation(stray)


def _padded(text: str, block: int) -> str:
    return text + "=" * (-len(text) % block)


DECODERS: list[Callable[[str], bytes]] = [
    str.encode,
    lambda t: urllib.parse.unquote(t).encode(),
    lambda t: urllib.parse.unquote_to_bytes(t),
    base64.urlsafe_b64decode,
    base64.b64decode,
    lambda t: base64.urlsafe_b64decode(_padded(t, 4)),
    lambda t: base64.b64decode(_padded(t, 4)),
    lambda t: base64.b64decode(_padded(t, 4), validate=True),
    lambda t: base64.b32decode(_padded(t.upper(), 8)),
    lambda t: base64.b16decode(t.upper()),
    bytes.fromhex,
]


def _attempt(decode: Callable[[str], bytes], text: str) -> bytes | None:
    try:
        return decode(text)
    except (ValueError, binascii.Error):
        return None


def _as_json(data: bytes) -> bytes | None:
    try:
        return json.dumps(json.loads(data)).encode()
    except (ValueError, RecursionError):
        return None


def _decodings(text: str) -> list[bytes]:
    """Everything `text` turns into under the usual decoders, and those results as JSON."""
    decoded = [d for d in (_attempt(decode, text) for decode in DECODERS) if d is not None]
    return decoded + [j for j in map(_as_json, decoded) if j is not None]


def test_decoding_a_token_in_any_way_reveals_no_id(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    secrets_in_play = [CUSTOMER.encode(), conversation_id.encode(), conversation_id[2:].encode()]

    token = manager.share_conversation(conversation_id, CUSTOMER)
    substrings = {
        token[start:end] for start in range(len(token)) for end in range(start + 8, len(token) + 1)
    }
    tried = 0
    for text in {token, token.swapcase(), *substrings}:
        for decoded in _decodings(text):
            tried += 1
            for secret in secrets_in_play:
                assert secret.lower() not in decoded.lower(), (text, decoded)

    assert len(substrings) == 36 * 37 // 2 and tried > len(substrings)


def test_a_token_or_its_hash_used_as_an_id_opens_nothing(manager: ConversationManager) -> None:
    conversation_id = _chat(manager)
    token = manager.share_conversation(conversation_id, CUSTOMER)

    for value in (token, _hash(token)):
        assert manager.get_recent_conversations(value, archived=None).items == []
        with pytest.raises(ConversationNotFoundError):
            manager.load_conversation(value, CUSTOMER)
        with pytest.raises(ConversationNotFoundError):
            manager.load_conversation(conversation_id, value)
    with pytest.raises(InvalidInputError, match="customer id"):
        manager.get_recent_conversations("_share:" + _hash(token))
    with pytest.raises(InvalidInputError, match="customer id"):
        manager.load_conversation(conversation_id, "_share:" + _hash(token))
