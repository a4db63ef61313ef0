"""The app's edge: configuration from the environment, and the objects every page uses.

Injection seam for tests: put a `ConversationManager` in session state under
`state_keys.MANAGER` (and optionally a `Responder` / `Transcriber` / `Synthesizer` /
`Enricher` under `state_keys.RESPONDER` / `TRANSCRIBER` / `SYNTHESIZER` / `ENRICHER`) before
the first run, e.g.
`at.session_state[state_keys.MANAGER] = ConversationManager(store)` with `AppTest`.
Otherwise one manager per process is built from `Settings.from_env(os.environ)` (after
loading `.env`), cached with `st.cache_resource` and shared by every session, and so is one
`Enricher` over it.
With an injected manager and no injected enricher, nothing is enriched: the process's enricher
writes to the process's store, never to the injected one.
Anonymous visitors' ids are derived with the process's identity key (`identity_key`), and tests
give the browser's cookies under `state_keys.COOKIES` (see `visitor`).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import streamlit as st
from dotenv import find_dotenv, load_dotenv

from conversation_store import ConversationManager, Enricher, Settings

from . import state_keys, visitor
from .chat_session import ChatSession
from .identity import (
    KEY_BYTES,
    KEY_FILE_NAME,
    anonymous_customer_id,
    configured_key,
    key_from_file,
    new_session_id,
    signed_in_customer_id,
)
from .responders import (
    DEFAULT_HISTORY_TOKENS,
    AzureOpenAIConfig,
    AzureOpenAIResponder,
    ConversationWriter,
    OfflineResponder,
    Responder,
)
from .speech import Synthesizer, synthesizer_from_env
from .transcribers import Transcriber, transcriber_from_env

T = TypeVar("T")
SQLITE_URL_PREFIX = "sqlite:///"
log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The app's settings are missing or wrong; the message says what to fix."""


@functools.cache
def _load_dotenv_once() -> None:
    load_dotenv(find_dotenv(usecwd=True), override=False)


def _environment() -> dict[str, str]:
    _load_dotenv_once()
    return dict(os.environ)


@st.cache_resource(show_spinner=False)
def _process_manager() -> ConversationManager:
    return ConversationManager.from_settings(Settings.from_env(_environment()))


@st.cache_resource(show_spinner=False)
def _process_identity_key() -> bytes:
    environ = _environment()
    configured = configured_key(environ.get("CONVERSATION_STORE_IDENTITY_KEY"))
    if configured is not None:
        return configured
    key_file = _key_file(Settings.from_env(environ))
    if key_file is not None:  # beside the database, so restarts keep identities
        return key_from_file(key_file)
    log.warning(
        "CONVERSATION_STORE_IDENTITY_KEY is not set: anonymous visitors get a key of this "
        "process only, so their conversations cannot be found again after a restart. Set it "
        "to a long random secret."
    )
    return secrets.token_bytes(KEY_BYTES)


def _key_file(settings: Settings) -> Path | None:
    """`identity.key` beside the SQLite database; None for every other store."""
    url = settings.store_url
    if settings.backend != "sqlite" or not url.startswith(SQLITE_URL_PREFIX):
        return None
    database = url.removeprefix(SQLITE_URL_PREFIX)
    return Path(database).parent / KEY_FILE_NAME if database else None


@st.cache_resource(show_spinner=False)
def _process_responder() -> Responder:
    config = AzureOpenAIConfig.from_env(_environment())
    return OfflineResponder() if config is None else AzureOpenAIResponder.from_config(config)


@st.cache_resource(show_spinner=False)
def _process_enricher() -> Enricher:
    return enricher_for(_process_manager(), _process_responder())


def enricher_for(manager: ConversationManager, responder: Responder) -> Enricher:
    """An enricher writing with the responder's language model when it has one."""
    if isinstance(responder, ConversationWriter):
        return Enricher(
            manager, title_writer=responder.write_title, summary_writer=responder.write_summary
        )
    return Enricher(manager)


@st.cache_resource(show_spinner=False)
def _process_transcriber() -> Transcriber:
    return transcriber_from_env(_environment())


@st.cache_resource(show_spinner=False)
def _process_synthesizer() -> Synthesizer:
    return synthesizer_from_env(_environment())


def manager() -> ConversationManager:
    """The injected manager, else the process's. Raises ConfigurationError."""
    injected = st.session_state.get(state_keys.MANAGER)
    if isinstance(injected, ConversationManager):
        return injected
    return _configured(_process_manager, "The conversation store could not be opened")


def responder() -> Responder:
    """The injected responder, else Azure OpenAI when configured, else the offline one."""
    injected = st.session_state.get(state_keys.RESPONDER)
    if isinstance(injected, Responder):
        return injected
    return _configured(_process_responder, "The language model is misconfigured")


def enricher() -> Enricher | None:
    """The injected enricher, else the process's; None when only a manager was injected."""
    injected = st.session_state.get(state_keys.ENRICHER)
    if isinstance(injected, Enricher):
        return injected
    if state_keys.MANAGER in st.session_state:
        return None
    return _process_enricher()


def transcriber() -> Transcriber:
    """The injected transcriber, else Azure AI Speech when configured, else Whisper (or
    PocketSphinx when Whisper is not installed)."""
    injected = st.session_state.get(state_keys.TRANSCRIBER)
    if isinstance(injected, Transcriber):
        return injected
    return _configured(_process_transcriber, "Speech recognition is not available")


def synthesizer() -> Synthesizer:
    """The injected synthesizer, else Azure AI Speech when configured, else espeak-ng.
    Raises ConfigurationError."""
    injected = st.session_state.get(state_keys.SYNTHESIZER)
    if isinstance(injected, Synthesizer):
        return injected
    return _configured(_process_synthesizer, "Spoken replies are not available")


def _configured(build: Callable[[], T], problem: str) -> T:
    """`build()`; any failure of it is a configuration problem here, said as `problem`."""
    try:
        return build()
    except Exception as exc:
        raise ConfigurationError(f"{problem}: {exc}") from exc


def history_token_budget() -> int:
    """How many tokens of history the language model is sent."""
    config = AzureOpenAIConfig.from_env(_environment())
    return config.history_tokens if config else DEFAULT_HISTORY_TOKENS


def identity_key() -> bytes:
    """The server key anonymous ids are derived with: CONVERSATION_STORE_IDENTITY_KEY, else
    `identity.key` beside the SQLite database, else one of this process (logged). Raises
    ConfigurationError."""
    return _configured(_process_identity_key, "The identity key is unusable")


def customer_id() -> str:
    """The signed-in user's stable id, else the id derived from the browser's secret."""
    signed_in = signed_in_customer_id(st.user.to_dict())
    if signed_in is not None:
        return signed_in
    return anonymous_customer_id(visitor.anonymous_secret(), identity_key())


def is_signed_in() -> bool:
    return signed_in_customer_id(st.user.to_dict()) is not None


def login_configured() -> bool:
    """Whether `[auth]` is set in secrets.toml, so `st.login()` can work."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def chat_session() -> ChatSession:
    """This session's chat for the current customer (a new one if the customer changed)."""
    session_id = st.session_state.setdefault(state_keys.SESSION_ID, new_session_id())
    current = customer_id()
    visitor.adopt_legacy_history(manager(), current)
    chat = st.session_state.get(state_keys.CHAT)
    if not isinstance(chat, ChatSession) or chat.customer_id != current:
        chat = ChatSession(manager(), customer_id=current, session_id=str(session_id))
        st.session_state[state_keys.CHAT] = chat
    return chat


def chat_session_or_stop() -> ChatSession:
    """`chat_session()`, or an explanation on the page and a stop when configuration fails."""
    try:
        return chat_session()
    except ConfigurationError as exc:
        st.error(str(exc))
        st.info("Check CONVERSATION_STORE_URL or the COSMOSDB_* settings (see .env.example).")
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers so
