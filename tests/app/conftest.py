"""AppTest fixtures: the real app script, with a store injected through session state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit_app.services import MANAGER_KEY

from conversation_store import ConversationManager, SQLiteStore

APP = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"
TIMEOUT = 20

AppFactory = Callable[..., AppTest]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
def open_app(db_path: Path) -> Iterator[AppFactory]:
    """Opens the app like a new browser tab over the SQLite file; `cid` picks the customer."""
    stores: list[SQLiteStore] = []

    def open_(cid: str | None = None, **session_state: object) -> AppTest:
        store = SQLiteStore(db_path)
        stores.append(store)
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.session_state[MANAGER_KEY] = ConversationManager(store)
        for key, value in session_state.items():
            at.session_state[key] = value
        if cid is not None:
            at.query_params["cid"] = cid
        return at.run()

    yield open_
    for store in stores:
        store.close()
