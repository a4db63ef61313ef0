"""Entra tokens as passwords (against a real role on the server), and the async store giving
the same answers as the sync one."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from azure.core.credentials import AccessToken

from conversation_store import AccessDeniedError, ConversationManager, aio
from conversation_store.aio.postgres import PostgresStore as AsyncPostgresStore
from conversation_store.settings import Settings, open_store
from conversation_store.stores.postgres.auth import SCOPE, TokenCache
from conversation_store.stores.postgres.boundary import RetryPolicy
from conversation_store.stores.postgres.store import PostgresStore


@dataclass
class FakeCredential:
    """A TokenCredential at our own protocol: hands out the tokens it is given, in turn."""

    tokens: list[AccessToken]
    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **_: object) -> AccessToken:
        self.scopes.append(scopes)
        return self.tokens.pop(0)


def _role_url(url: str, role: str) -> str:
    """`url` logging in as `role`, with no password in it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


@pytest.fixture
def token_role(postgres_url: str) -> tuple[str, psycopg.Connection[tuple[object, ...]]]:
    role = f"entra_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(postgres_url, autocommit=True)
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'token-1'")
    schema = admin.execute("SELECT current_schema()").fetchone()
    admin.execute(f"GRANT ALL ON SCHEMA {schema[0] if schema else 'public'} TO {role}")
    return role, admin


def test_each_new_connection_logs_in_with_a_token_refreshed_before_expiry(
    postgres_url: str, token_role: tuple[str, psycopg.Connection[tuple[object, ...]]]
) -> None:
    role, admin = token_role
    soon = int(time.time() + 60)  # inside the refresh margin: the next login asks again
    later = int(time.time() + 3600)
    # Each store logs in once on open (to report a refused login at once), then per
    # connection: the first store asks twice (its token is inside the margin), the second
    # once (its token is good for an hour).
    credential = FakeCredential(
        [AccessToken("token-1", soon), AccessToken("token-1", soon), AccessToken("token-2", later)]
    )
    url = _role_url(postgres_url, role)
    with PostgresStore(url, credential=credential, min_size=0, max_size=1) as store:
        assert store.list_conversations("alice", limit=1).items == []
        admin.execute(f"ALTER ROLE {role} PASSWORD 'token-2'")  # the new token's value
        with PostgresStore(url, credential=credential, min_size=0, max_size=1) as second:
            assert second.list_conversations("alice", limit=1).items == []
            assert second.list_conversations("bob", limit=1).items == []
    assert credential.scopes == [(SCOPE,)] * 3
    admin.close()


@pytest.mark.parametrize("login", ["wrong password", "unknown role"])
def test_a_refused_login_is_access_denied_at_once_and_names_no_password(
    postgres_url: str, login: str
) -> None:
    parts = urlsplit(postgres_url)
    user = parts.username if login == "wrong password" else f"nobody_{uuid.uuid4().hex[:6]}"
    netloc = f"{user}:not-the-Secret-9@{parts.hostname}:{parts.port}"
    url = urlunsplit(parts._replace(netloc=netloc))
    # Many attempts over a long time: a refused login must not be retried (nor waited out in
    # the pool, which would end as StoreUnavailableError).
    patient = RetryPolicy(attempts=50, max_total_seconds=600)
    with PostgresStore(url, retry=patient) as store, pytest.raises(AccessDeniedError) as raised:
        store.list_conversations("alice", limit=1)
    assert "not-the-Secret-9" not in str(raised.value)
    assert "authentication failed" in str(raised.value) or "does not exist" in str(raised.value)


async def test_a_refused_login_is_access_denied_at_once_on_the_async_store(
    postgres_url: str,
) -> None:
    parts = urlsplit(postgres_url)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}:wrong@{parts.hostname}:{parts.port}"))
    store = AsyncPostgresStore(url, retry=RetryPolicy(attempts=50, max_total_seconds=600))
    with pytest.raises(AccessDeniedError):
        await store.list_conversations("alice", limit=1)
    await store.close()


def test_token_cache_keeps_a_token_until_the_margin() -> None:
    cache = TokenCache(margin_seconds=300)
    assert cache.current(now=0) is None
    cache.keep(AccessToken("t", 1000))
    assert cache.current(now=699) == "t"
    assert cache.current(now=700) is None


def test_a_postgresql_url_opens_the_postgres_store(postgres_url: str) -> None:
    settings = Settings.from_env({"CONVERSATION_STORE_URL": postgres_url})
    assert settings.backend == "postgres"
    with open_store(settings) as store:
        assert isinstance(store, PostgresStore)
    assert isinstance(aio.settings.open_store(settings), AsyncPostgresStore)


async def test_the_async_store_answers_as_the_sync_one(postgres_url: str) -> None:
    sync_manager = ConversationManager(PostgresStore(postgres_url))
    async with aio.ConversationManager(AsyncPostgresStore(postgres_url)) as async_manager:
        sync_doc = sync_manager.save_conversation(
            sync_manager.create_conversation_document("alice", "s1", title="Tokyo")
        )
        async_doc = await async_manager.save_conversation(
            async_manager.create_conversation_document("alice", "s2", title="Tokyo")
        )
        for text in ("Trip to Tokyo", "Kyoto next"):
            sync_manager.append_message(sync_doc.id, "alice", "user", text)
            await async_manager.append_message(async_doc.id, "alice", "user", text)
        loaded = [
            sync_manager.load_conversation(sync_doc.id, "alice"),
            await async_manager.load_conversation(async_doc.id, "alice"),
        ]
        assert [[m.content for m in c.messages] for c in loaded] == [
            ["Trip to Tokyo", "Kyoto next"]
        ] * 2
        assert loaded[0].message_count == loaded[1].message_count == 2
        hits = [
            sync_manager.search_conversations("alice", "kyo"),
            await async_manager.search_conversations("alice", "kyo"),
        ]
        assert [len(h) for h in hits] == [2, 2]
        listed = await async_manager.get_recent_conversations("alice", limit=10)
        assert {s.id for s in listed.items} == {sync_doc.id, async_doc.id}
        await async_manager.delete_conversation(sync_doc.id, "alice")
    with pytest.raises(LookupError):
        sync_manager.load_conversation(sync_doc.id, "alice")
    assert sync_manager.load_conversation(async_doc.id, "alice").title == "Tokyo"
    sync_manager.close()
