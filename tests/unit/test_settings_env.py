"""Settings from a mapping, a `.env` file or arguments: every variable's name and values, the
typed error a bad value gets, and the account key kept out of every text."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversation_store import ConversationManager, InvalidInputError, Settings, aio
from conversation_store import settings as settings_module
from conversation_store.aio import embedded
from conversation_store.aio import settings as aio_settings_module
from conversation_store.settings import open_store, variable_of
from conversation_store.stores.sqlite.store import SQLiteStore

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHM="  # base64, as Cosmos DB keys are

# Each variable, a value of it, and the field value it gives.
VALUES: list[tuple[str, str, str, Any]] = [
    ("CONVERSATION_STORE_URL", "memory://", "store_url", "memory://"),
    ("CONVERSATION_STORE_URL", "postgresql://u@h/db", "store_url", "postgresql://u@h/db"),
    ("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", "NORMAL", "sqlite_synchronous", "NORMAL"),
    ("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", " normal ", "sqlite_synchronous", "NORMAL"),
    ("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", "full", "sqlite_synchronous", "FULL"),
    ("CONVERSATION_STORE_OUTBOX", "/tmp/o.db", "outbox_path", "/tmp/o.db"),
    ("CONVERSATION_STORE_OUTBOX", "off", "outbox_path", None),
    ("CONVERSATION_STORE_OUTBOX", "None", "outbox_path", None),
    ("COSMOSDB_ENDPOINT", "https://a.documents.azure.com:443/", "cosmos_endpoint",
     "https://a.documents.azure.com:443/"),
    ("COSMOSDB_DATABASE", "D", "cosmos_database", "D"),
    ("COSMOSDB_AIConversations_CONTAINER", "C", "cosmos_container", "C"),
    ("COSMOSDB_CREATE_IF_MISSING", "true", "cosmos_create_if_missing", True),
    ("COSMOSDB_CREATE_IF_MISSING", "1", "cosmos_create_if_missing", True),
    ("COSMOSDB_CREATE_IF_MISSING", "off", "cosmos_create_if_missing", False),
    ("COSMOSDB_INSECURE_EMULATOR_TLS", "yes", "cosmos_insecure_emulator_tls", True),
]  # fmt: skip

# Each variable and values it refuses.
BAD_VALUES = [
    ("CONVERSATION_STORE_URL", "mysql://x"),
    ("CONVERSATION_STORE_URL", "sqlite://relative.db"),
    ("CONVERSATION_STORE_URL", "sqlite:///"),
    ("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", "OFF"),
    ("CONVERSATION_STORE_SQLITE_SYNCHRONOUS", "EXTRA"),
    ("COSMOSDB_ENDPOINT", "a.documents.azure.com"),
    ("COSMOSDB_CREATE_IF_MISSING", "maybe"),
    ("COSMOSDB_INSECURE_EMULATOR_TLS", "2"),
]


@pytest.mark.parametrize(("variable", "value", "field", "expected"), VALUES)
def test_each_variable_sets_its_field(variable: str, value: str, field: str, expected: Any) -> None:
    assert variable_of(field) == variable
    assert getattr(Settings.from_env({variable: value}), field) == expected


def test_nothing_set_or_empty_values_give_the_defaults() -> None:
    defaults = Settings.from_env({})
    assert defaults == Settings()
    assert (defaults.backend, defaults.store_url, defaults.outbox_path) == (
        "sqlite",
        "sqlite:///data/conversations.db",
        "data/outbox.db",
    )
    assert (defaults.cosmos_database, defaults.cosmos_container) == ("GenAI", "AI_Conversations")
    assert (defaults.sqlite_synchronous, defaults.cosmos_verify_tls) == ("FULL", True)
    empty = {variable_of(field): "" for field in Settings.model_fields}
    assert Settings.from_env(empty) == defaults


def test_the_key_is_a_secret_and_is_handed_to_the_store_only() -> None:
    environ = {"COSMOSDB_ENDPOINT": "https://a.documents.azure.com", "COSMOSDB_KEY": KEY}
    settings = Settings.from_env(environ)
    assert settings.cosmos_key is not None and settings.cosmos_key.get_secret_value() == KEY
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in text
    endpoint, options = settings_module.cosmos_arguments(settings)
    assert (endpoint, options["credential"]) == (environ["COSMOSDB_ENDPOINT"], KEY)
    with pytest.raises(InvalidInputError) as raised:
        Settings.from_env({**environ, "COSMOSDB_CREATE_IF_MISSING": KEY})
    assert KEY not in str(raised.value) and KEY not in str(raised.value.__cause__)


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_a_bad_value_is_one_line_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        Settings.from_env({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ") and "\n" not in message


@given(value=st.text(min_size=1))
def test_any_text_for_a_flag_is_a_boolean_or_a_typed_error(value: str) -> None:
    try:
        settings = Settings.from_env({"COSMOSDB_CREATE_IF_MISSING": value})
    except InvalidInputError as exc:
        assert str(exc).startswith("COSMOSDB_CREATE_IF_MISSING: ") and "\n" not in str(exc)
    else:
        assert isinstance(settings.cosmos_create_if_missing, bool)


@given(secret=st.from_regex(r"[A-Za-z0-9]{16,24}", fullmatch=True), variable=st.sampled_from(
    [variable for variable, _ in BAD_VALUES]
))  # fmt: skip
def test_an_error_never_shows_the_value(secret: str, variable: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        Settings.from_env({variable: f"{secret}://{secret}"})
    assert secret not in str(raised.value) and secret not in str(raised.value.__cause__)


def test_several_bad_values_are_all_named() -> None:
    with pytest.raises(InvalidInputError) as raised:
        Settings.from_env({"COSMOSDB_CREATE_IF_MISSING": "x", "COSMOSDB_ENDPOINT": "x"})
    problems = str(raised.value).split("; ")
    assert sorted(problem.split(":")[0] for problem in problems) == [
        "COSMOSDB_CREATE_IF_MISSING",
        "COSMOSDB_ENDPOINT",
    ]


def test_arguments_take_field_names_and_are_checked_alike() -> None:
    assert Settings(store_url="memory://", cosmos_insecure_emulator_tls=True).backend == "memory"
    with pytest.raises(InvalidInputError, match=r"^CONVERSATION_STORE_SQLITE_SYNCHRONOUS: "):
        Settings(sqlite_synchronous="OFF")
    with pytest.raises(InvalidInputError, match=r"^COSMOSDB_DATABASE: "):
        Settings(cosmos_database="")
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.store_url = "memory://"  # type: ignore[misc]


def test_arguments_and_mappings_never_read_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CONVERSATION_STORE_URL=memory://\n")
    monkeypatch.setenv("COSMOSDB_ENDPOINT", "https://a.documents.azure.com")
    monkeypatch.setenv("CONVERSATION_STORE_URL", "memory://")
    assert Settings() == Settings.from_env({})
    assert Settings().backend == Settings.from_env({}).backend == "sqlite"
    with ConversationManager.from_url(f"sqlite:///{tmp_path / 'c.db'}") as manager:
        assert isinstance(manager.store, SQLiteStore)


def test_an_env_file_is_read_under_the_mapping(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "COSMOSDB_DATABASE=FromFile\n"
        "COSMOSDB_AIConversations_CONTAINER='Quoted'\n"
        "CONVERSATION_STORE_URL=memory://\n"
        "store_url=sqlite:///named-like-a-field.db\n"
        "UNRELATED=1\n"
    )
    settings = Settings.from_env({"CONVERSATION_STORE_URL": "sqlite:///x.db"}, env_file=env_file)
    assert (settings.cosmos_database, settings.cosmos_container) == ("FromFile", "Quoted")
    assert settings.store_url == "sqlite:///x.db"  # the mapping wins over the file
    assert Settings.from_env({}, env_file=env_file).store_url == "memory://"
    assert Settings.from_env({}, env_file=tmp_path / "missing.env") == Settings()


def test_a_bad_value_in_an_env_file_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("COSMOSDB_CREATE_IF_MISSING=perhaps\n")
    with pytest.raises(InvalidInputError, match=r"^COSMOSDB_CREATE_IF_MISSING: "):
        Settings.from_env({}, env_file=env_file)


def test_the_environment_settings_are_the_process_environment_over_dot_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(variable_of(field), raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COSMOSDB_DATABASE=FromFile\nCOSMOSDB_KEY=" + KEY + "\n")
    monkeypatch.setenv("COSMOSDB_DATABASE", "FromEnv")
    settings = settings_module.environment_settings()
    assert settings.cosmos_database == "FromEnv"
    assert settings.cosmos_key is not None and settings.cosmos_key.get_secret_value() == KEY


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_both_store_openers_pass_sqlite_synchronous(
    synchronous: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    class RecordingSQLiteStore(SQLiteStore):
        def __init__(self, path: str | Path, **options: Any) -> None:
            opened.append(options["synchronous"])
            super().__init__(path, **options)

    monkeypatch.setattr(settings_module, "SQLiteStore", RecordingSQLiteStore)
    monkeypatch.setattr(embedded.sqlite, "SQLiteStore", RecordingSQLiteStore)
    settings = Settings.from_env(
        {
            "CONVERSATION_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "CONVERSATION_STORE_SQLITE_SYNCHRONOUS": synchronous.lower(),
        }
    )
    open_store(settings).close()
    aio_store = aio_settings_module.open_store(settings)
    asyncio.run(aio_store.close())
    assert isinstance(aio_store, aio.SQLiteStore)
    assert opened == [synchronous, synchronous]
