"""AppTest fixtures: the real app script, with a manager and an enricher injected through
session state, over a real SQLite file (or a store the test passes), and the browser's cookies
injected too (AppTest sends none); the identity key is a fixed test setting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from app_helpers import IDENTITY_KEY, in_browser
from streamlit.testing.v1 import AppTest
from streamlit_app import services, state_keys

from conversation_store import ConversationManager, ConversationStore, Enricher, SQLiteStore

APP = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"
TIMEOUT = 20

AppFactory = Callable[..., AppTest]


@pytest.fixture(autouse=True)
def identity_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every app test derives anonymous ids with the same known key."""
    monkeypatch.setenv("CONVERSATION_STORE_IDENTITY_KEY", IDENTITY_KEY)
    services._process_identity_key.clear()
    yield
    services._process_identity_key.clear()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
def open_app(db_path: Path) -> Iterator[AppFactory]:
    """Opens the app like a new browser tab: over the SQLite file unless `store` is given,
    with an enricher over the same manager; `secret` is the browser's identity cookie (None: a
    browser without one), `query` adds URL parameters and `enrich=False` leaves the enricher
    out."""
    with ExitStack() as resources:

        def open_(
            secret: str | None = None,
            *,
            store: ConversationStore | None = None,
            query: dict[str, str] | None = None,
            enrich: bool = True,
            **session_state: object,
        ) -> AppTest:
            if store is None:
                store = resources.enter_context(SQLiteStore(db_path))
            manager = ConversationManager(store)
            at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
            at.session_state[state_keys.MANAGER] = manager
            if enrich:  # closed before its store: ExitStack unwinds last in, first out
                at.session_state[state_keys.ENRICHER] = resources.enter_context(Enricher(manager))
            for key, value in session_state.items():
                at.session_state[key] = value
            in_browser(at, secret)
            for key, value in (query or {}).items():
                at.query_params[key] = value
            return at.run()

        yield open_
