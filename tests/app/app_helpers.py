"""Helpers shared by the AppTest modules (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys

from conversation_store import Enricher

CID = "anon_0123456789abcdef0123456789abcdef"
WAIT = 10  # seconds: a bound on waiting for the enricher's thread, never asserted on


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key="chat_input").set_value(text).run()


def settle(at: AppTest) -> AppTest:
    """Let the injected enricher finish its jobs, then rerun, as the user's next click would."""
    enricher = at.session_state[state_keys.ENRICHER]
    assert isinstance(enricher, Enricher) and enricher.wait_idle(WAIT)
    return at.run()


def chat_texts(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, m.markdown[0].value) for m in at.main.chat_message]


def open_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("open_")]


def conversation_ids(at: AppTest) -> list[str]:
    """The ids of the conversations the sidebar lists, in order."""
    return [
        b.key.removeprefix("open_")
        for b in at.sidebar.button
        if b.key and b.key.startswith("open_")
    ]
