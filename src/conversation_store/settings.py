"""Settings (a pydantic-settings class) and the store they name.

Each setting has one environment variable, its field's alias; `.env.example` and
docs/configuration.md list every one. The library reads the environment in one place only:
`ConversationManager()` with no store (the seed's usage) reads `os.environ` and `.env`
(`environment_settings`). Every other caller passes what its edge read,
`Settings.from_env(os.environ)`, or the values themselves, `Settings(store_url=...)`, which
read nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from conversation_store.exceptions import InvalidInputError
from conversation_store.stores.cosmos.config import DEFAULT_CONTAINER, DEFAULT_DATABASE
from conversation_store.stores.cosmos.store import CosmosStore
from conversation_store.stores.memory import MemoryStore
from conversation_store.stores.outbox.queue import OutboxQueue
from conversation_store.stores.outbox.store import OutboxStore
from conversation_store.stores.protocol import ConversationStore
from conversation_store.stores.sqlite.store import SQLiteStore

DEFAULT_STORE_URL = "sqlite:///data/conversations.db"
DEFAULT_OUTBOX_PATH = "data/outbox.db"
DEFAULT_ENV_FILE = ".env"
SQLITE_URL_PREFIX = "sqlite:///"
MEMORY_URL_PREFIX = "memory://"
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")
OUTBOX_OFF = frozenset({"off", "none", "false", "0"})
SqliteSynchronous = Literal["FULL", "NORMAL"]


class Settings(BaseSettings):
    """Where conversations live. With no Cosmos endpoint, `store_url` names the store.

    Construct it with field names (`Settings(store_url="memory://")`) or read it with
    `from_env`. Raises InvalidInputError naming the variable of a bad value; the account key
    is a `SecretStr`, never shown in a repr, a log or an error.
    """

    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,  # `NAME=` (as in .env.example) means the default
        extra="ignore",  # the environment holds much more than these
        frozen=True,
        populate_by_name=True,  # Settings(store_url=...) as well as the variable names
        hide_input_in_errors=True,
    )

    store_url: str = Field(DEFAULT_STORE_URL, validation_alias="CONVERSATION_STORE_URL")
    sqlite_synchronous: SqliteSynchronous = Field(
        "FULL", validation_alias="CONVERSATION_STORE_SQLITE_SYNCHRONOUS"
    )
    outbox_path: str | None = Field(
        DEFAULT_OUTBOX_PATH, validation_alias="CONVERSATION_STORE_OUTBOX"
    )
    cosmos_endpoint: str | None = Field(None, validation_alias="COSMOSDB_ENDPOINT")
    cosmos_database: str = Field(
        DEFAULT_DATABASE, min_length=1, validation_alias="COSMOSDB_DATABASE"
    )
    cosmos_container: str = Field(
        DEFAULT_CONTAINER, min_length=1, validation_alias="COSMOSDB_AIConversations_CONTAINER"
    )
    cosmos_key: SecretStr | None = Field(None, validation_alias="COSMOSDB_KEY")
    cosmos_create_if_missing: bool = Field(False, validation_alias="COSMOSDB_CREATE_IF_MISSING")
    cosmos_insecure_emulator_tls: bool = Field(
        False, validation_alias="COSMOSDB_INSECURE_EMULATOR_TLS"
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInputError(_problems(exc)) from exc

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Construction reads only its arguments; from_env says where else to read.
        return (init_settings,)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, env_file: str | Path | None = None
    ) -> Settings:
        """The settings the variables of `environ` name, over those of `env_file` (a `.env`
        file; a missing one is skipped). Raises InvalidInputError."""
        values: dict[str, Any] = {}
        if env_file is not None:
            values.update(_known(DotEnvSettingsSource(cls, env_file=env_file)()))
        values.update(_known(_MappingSource(cls, environ)()))
        return cls(**values)

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, url: str) -> str:
        known = (SQLITE_URL_PREFIX, MEMORY_URL_PREFIX, *POSTGRES_URL_PREFIXES)
        if not url.startswith(known) or url == SQLITE_URL_PREFIX:
            raise ValueError("not sqlite:///path, memory:// or postgresql://user@host/db")
        return url

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("outbox_path", mode="before")
    @classmethod
    def _outbox_off(cls, value: object) -> object:
        off = isinstance(value, str) and value.strip().lower() in OUTBOX_OFF
        return None if off else value

    @field_validator("cosmos_endpoint")
    @classmethod
    def _check_endpoint(cls, endpoint: str | None) -> str | None:
        if endpoint is not None and not endpoint.startswith(("https://", "http://")):
            raise ValueError("not an https:// account endpoint")
        return endpoint

    @property
    def cosmos_verify_tls(self) -> bool:
        """Whether TLS certificates are checked: always but for a local emulator's."""
        return not self.cosmos_insecure_emulator_tls

    @property
    def backend(self) -> str:
        """`cosmos`, `postgres`, `sqlite` or `memory`."""
        if self.cosmos_endpoint:
            return "cosmos"
        if self.store_url.startswith(POSTGRES_URL_PREFIXES):
            return "postgres"
        return "memory" if self.store_url.startswith(MEMORY_URL_PREFIX) else "sqlite"


class _MappingSource(EnvSettingsSource):
    """The environment variables of a mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # What the base class does with os.environ; the names are case-sensitive (model_config).
        return {
            name: value
            for name, value in self._environ.items()
            if value != "" or not self.env_ignore_empty
        }


def variable_of(field: str) -> str:
    """The environment variable of a `Settings` field."""
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, str)
    return alias


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of our variables only: a `.env` line named like a field is not one."""
    names = {variable_of(field) for field in Settings.model_fields}
    return {name: value for name, value in values.items() if name in names}


def _problems(exc: ValidationError) -> str:
    """One line naming each bad variable and what is wrong, never its value."""
    problems = []
    for error in exc.errors(include_input=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        variable = variable_of(name) if name in Settings.model_fields else name
        problems.append(f"{variable}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def environment_settings() -> Settings:
    """The settings of this process: `os.environ` over `./.env`. Only the seed's
    `ConversationManager()` reads them; every other caller passes its own."""
    return Settings.from_env(os.environ, env_file=DEFAULT_ENV_FILE)


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative/path` or `sqlite:////absolute/path` URL."""
    if not url.startswith(SQLITE_URL_PREFIX) or len(url) == len(SQLITE_URL_PREFIX):
        raise InvalidInputError(f"store URL {url!r} is not sqlite:///path or memory://")
    return Path(url[len(SQLITE_URL_PREFIX) :])


def open_store(settings: Settings) -> ConversationStore:
    """Open the store `settings` name. The caller owns it and must close it."""
    if settings.backend == "memory":
        return MemoryStore()
    if settings.backend == "sqlite":
        return SQLiteStore(sqlite_path(settings.store_url), synchronous=settings.sqlite_synchronous)
    if settings.backend == "postgres":
        # psycopg comes with the optional `postgres` extra, so it is imported only here.
        from conversation_store.stores.postgres.store import PostgresStore

        return PostgresStore.from_url(settings.store_url)
    endpoint, options = cosmos_arguments(settings)
    cosmos = CosmosStore.from_endpoint(endpoint, **options)
    if settings.outbox_path is None:
        return cosmos
    return OutboxStore(cosmos, OutboxQueue(settings.outbox_path))


def cosmos_arguments(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The endpoint and keyword arguments of `CosmosStore.from_endpoint` (sync and async)."""
    assert settings.cosmos_endpoint is not None
    key = settings.cosmos_key
    return settings.cosmos_endpoint, {
        "credential": key.get_secret_value() if key is not None else None,
        "database": settings.cosmos_database,
        "container": settings.cosmos_container,
        "create_if_missing": settings.cosmos_create_if_missing,
        "connection_verify": settings.cosmos_verify_tls,
    }
