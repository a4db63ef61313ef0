"""Customer ids: a signed-in user's stable claim, or an id derived one-way from the browser's
secret with the server key; the server key from the setting, a file, or the process."""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit_app import services
from streamlit_app.identity import (
    IDENTITY_COOKIE,
    anonymous_customer_id,
    configured_key,
    cookie_script,
    key_from_file,
    legacy_customer_id,
    new_browser_secret,
    new_session_id,
    signed_in_customer_id,
    usable_secret,
)

KEY = b"k" * 32


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


def test_the_anonymous_id_is_derived_from_the_secret_and_the_key() -> None:
    secret = new_browser_secret()
    customer = anonymous_customer_id(secret, KEY)
    assert re.fullmatch(r"anonymous_[0-9a-f]{32}", customer)
    assert anonymous_customer_id(secret, KEY) == customer
    assert anonymous_customer_id(secret, b"x" * 32) != customer  # another server key
    assert anonymous_customer_id(new_browser_secret(), KEY) != customer
    assert secret not in customer


def test_an_id_never_has_the_old_shape_that_the_move_accepts() -> None:
    customer = anonymous_customer_id(new_browser_secret(), KEY)
    assert legacy_customer_id({"cid": customer}) is None
    old = "anon_0123456789abcdef0123456789abcdef"
    assert legacy_customer_id({"cid": old}) == old
    assert legacy_customer_id({"cid": "o-1"}) is None and legacy_customer_id({}) is None


def test_secrets_are_random_and_only_their_shape_is_accepted_from_a_cookie() -> None:
    secret = new_browser_secret()
    assert len(secret) == 43 and secret != new_browser_secret()
    assert usable_secret(secret) == secret
    for bad in (None, "", "short", secret + "x", secret[:-1] + ";", secret[:-1] + "\u00e9"):
        assert usable_secret(bad) is None


def test_the_cookie_script_keeps_the_secret_for_a_year_same_site_only() -> None:
    secret = new_browser_secret()
    script = cookie_script(secret)
    assert script.startswith("<script>") and script.endswith("</script>")
    assert f"{IDENTITY_COOKIE}={secret}; Path=/; Max-Age=31536000; SameSite=Strict" in script
    assert '"https:" ? "; Secure"' in script
    with pytest.raises(ValueError):
        cookie_script('"; alert(1); "')


def test_a_configured_key_must_be_long_enough() -> None:
    assert configured_key(None) is None and configured_key("") is None
    assert configured_key("s" * 32) == b"s" * 32
    with pytest.raises(ValueError, match="at least 32"):
        configured_key("short")


def test_the_key_file_is_created_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "identity.key"
    key = key_from_file(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_from_file(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["identity.key"]  # no draft left behind


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    path.write_bytes(b"too short")
    with pytest.raises(ValueError, match="remove it"):
        key_from_file(path)


@pytest.fixture
def fresh_identity_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("CONVERSATION_STORE_IDENTITY_KEY", raising=False)
    monkeypatch.delenv("COSMOSDB_ENDPOINT", raising=False)
    services._process_identity_key.clear()
    yield monkeypatch
    services._process_identity_key.clear()


def test_the_process_key_comes_from_the_setting(fresh_identity_key: pytest.MonkeyPatch) -> None:
    fresh_identity_key.setenv("CONVERSATION_STORE_IDENTITY_KEY", "c" * 40)
    assert services._process_identity_key() == b"c" * 40


def test_the_process_key_is_kept_beside_the_sqlite_database(
    fresh_identity_key: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_identity_key.setenv("CONVERSATION_STORE_URL", f"sqlite:///{tmp_path}/db/c.db")
    key = services._process_identity_key()
    assert (tmp_path / "db" / "identity.key").read_bytes() == key
    services._process_identity_key.clear()  # a restart
    assert services._process_identity_key() == key


def test_without_a_place_to_keep_it_the_key_is_the_processs_and_a_warning_says_so(
    fresh_identity_key: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_identity_key.setenv("CONVERSATION_STORE_URL", "memory://")
    with caplog.at_level(logging.WARNING, logger=services.__name__):
        key = services._process_identity_key()
    assert len(key) == 32
    assert any("CONVERSATION_STORE_IDENTITY_KEY" in r.getMessage() for r in caplog.records)


def test_session_ids_are_unique() -> None:
    assert new_session_id() != new_session_id()
