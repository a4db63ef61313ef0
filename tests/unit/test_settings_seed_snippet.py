"""`ConversationManager()` with no store, as the seed's VoiceBot makes it: the store the
environment and `./.env` name, owned (closed on close()), for the sync and the aio manager."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation_store import (
    ConversationManager,
    InvalidInputError,
    MemoryStore,
    Settings,
    SQLiteStore,
    StoreClosedError,
    aio,
)
from conversation_store.models import ConversationKey
from conversation_store.settings import variable_of
from support.seed_snippet import run_seed_snippet


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No settings in the environment, and an empty working directory (no `.env`)."""
    for field in Settings.model_fields:
        monkeypatch.delenv(variable_of(field), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_seed_conversation_stored(url: str, conversation_id: str) -> None:
    """The snippet's conversation, read back through a manager of its own."""
    with ConversationManager.from_url(url) as manager:
        loaded = manager.load_conversation(conversation_id, "user_123")
    assert (loaded.customer_id, loaded.session_id) == ("user_123", "session_456")
    assert [(m.role, m.content) for m in loaded.messages] == [("user", "Hello")]


def test_the_seed_snippet_runs_as_written_on_a_sqlite_file_the_environment_names(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{workdir / 'elsewhere' / 'seed.db'}"
    monkeypatch.setenv("CONVERSATION_STORE_URL", url)

    seed = run_seed_snippet()

    manager = seed["conversation_manager"]
    assert isinstance(manager.store, SQLiteStore)
    manager.close()
    assert_seed_conversation_stored(url, seed["conversation_doc"].id)
    with pytest.raises(StoreClosedError):  # the manager closed the store it opened
        manager.store.get_conversation(ConversationKey("user_123", seed["conversation_doc"].id))


def test_with_nothing_configured_the_seed_snippet_stores_in_data_conversations_db(
    workdir: Path,
) -> None:
    seed = run_seed_snippet()
    seed["conversation_manager"].close()
    assert (workdir / "data" / "conversations.db").is_file()
    assert_seed_conversation_stored("sqlite:///data/conversations.db", seed["conversation_doc"].id)


def test_a_dot_env_file_configures_the_manager_and_the_environment_wins(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text("CONVERSATION_STORE_URL=sqlite:///from-dot-env.db\n")
    with ConversationManager() as manager:
        assert isinstance(manager.store, SQLiteStore)
    assert (workdir / "from-dot-env.db").is_file()
    monkeypatch.setenv("CONVERSATION_STORE_URL", "memory://")
    with ConversationManager() as manager:
        assert isinstance(manager.store, MemoryStore)


def test_a_bad_setting_is_a_typed_error_naming_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(InvalidInputError, match=r"^CONVERSATION_STORE_SQLITE_SYNCHRONOUS: "):
        ConversationManager()
    with pytest.raises(InvalidInputError, match=r"^CONVERSATION_STORE_SQLITE_SYNCHRONOUS: "):
        aio.ConversationManager()
    assert list(workdir.iterdir()) == []  # nothing was opened or created


def test_a_given_store_stays_the_callers(workdir: Path) -> None:
    store = MemoryStore()
    ConversationManager(store).close()
    assert store.list_conversations("user_123", limit=1).items == []  # still open
    store.close()


async def test_the_aio_manager_with_no_store_opens_and_closes_the_environments_store(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{workdir / 'aio.db'}"
    monkeypatch.setenv("CONVERSATION_STORE_URL", url)
    manager = aio.ConversationManager()
    assert isinstance(manager.store, aio.SQLiteStore)
    doc = manager.create_conversation_document(customer_id="user_123", session_id="session_456")
    manager.add_message_to_conversation(doc, role="user", content="Hello")
    await manager.save_conversation(doc)
    await manager.close()
    with pytest.raises(StoreClosedError):
        await manager.store.get_conversation(ConversationKey("user_123", doc.id))
    assert_seed_conversation_stored(url, doc.id)
