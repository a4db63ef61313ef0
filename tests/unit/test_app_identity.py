"""Customer ids: a signed-in user's stable claim, or an anonymous id kept in the URL."""

from __future__ import annotations

import re

from streamlit_app.identity import (
    anonymous_customer_id,
    new_session_id,
    signed_in_customer_id,
)


def test_signed_in_user_uses_oid_then_sub() -> None:
    assert signed_in_customer_id({"is_logged_in": True, "oid": "o-1", "sub": "s-1"}) == "o-1"
    assert signed_in_customer_id({"is_logged_in": True, "sub": "s-1"}) == "s-1"


def test_signed_out_or_claimless_user_has_no_id() -> None:
    assert signed_in_customer_id({"email": "test@example.com"}) is None
    assert signed_in_customer_id({"is_logged_in": False, "oid": "o-1"}) is None
    assert signed_in_customer_id({"is_logged_in": True, "email": "a@b.c"}) is None


def test_a_claim_unusable_as_an_id_is_hashed_stably() -> None:
    user = {"is_logged_in": True, "sub": "https://issuer/#123"}
    first = signed_in_customer_id(user)
    assert first is not None and re.fullmatch(r"user_[0-9a-f]{64}", first)
    assert signed_in_customer_id(user) == first


def test_anonymous_id_is_generated_once_and_kept() -> None:
    params: dict[str, str] = {}
    first = anonymous_customer_id(params)
    assert re.fullmatch(r"anon_[0-9a-f]{32}", first)
    assert params["cid"] == first
    assert anonymous_customer_id(params) == first


def test_a_url_cannot_name_a_non_anonymous_customer() -> None:
    params = {"cid": "o-1"}  # someone's oid typed into the URL
    replaced = anonymous_customer_id(params)
    assert replaced != "o-1" and replaced.startswith("anon_") and params["cid"] == replaced


def test_session_ids_are_unique() -> None:
    assert new_session_id() != new_session_id()


def test_a_remembered_id_is_put_back_into_a_url_that_lost_it() -> None:
    remembered = "anon_" + "a" * 32
    params: dict[str, str] = {}
    assert anonymous_customer_id(params, remembered=remembered) == remembered
    assert params == {"cid": remembered}
    # A valid id in the URL wins (a shared link opened in this session).
    other = "anon_" + "b" * 32
    assert anonymous_customer_id({"cid": other}, remembered=remembered) == other
