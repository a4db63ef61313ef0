"""Helpers shared by the AppTest modules (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest
from streamlit_app import state_keys
from streamlit_app.identity import IDENTITY_COOKIE, anonymous_customer_id

from conversation_store import Enricher

IDENTITY_KEY = "test-identity-key-0123456789abcdef"  # CONVERSATION_STORE_IDENTITY_KEY (conftest)
SECRET = "S" * 43  # the browser secret of the visitor most tests play
CID = anonymous_customer_id(SECRET, IDENTITY_KEY.encode())  # ... and their stored customer id
WAIT = 10  # seconds: a bound on waiting for the enricher's thread, never asserted on
_COOKIE_WRITE = re.compile(rf"{IDENTITY_COOKIE}=([A-Za-z0-9_-]+);")
_ESCAPED = re.compile(r"\\(.)")


def in_browser(at: AppTest, secret: str | None) -> AppTest:
    """`at` as a browser holding `secret` in its cookie (None: a browser without one)."""
    at.session_state[state_keys.COOKIES] = {} if secret is None else {IDENTITY_COOKIE: secret}
    return at


def cookie_written(at: AppTest) -> str | None:
    """The secret the page's script tells the browser to keep, as a browser would run it."""
    written = [
        match.group(1)
        for element in at.get("html")
        for match in _COOKIE_WRITE.finditer(element.proto.body)
    ]
    assert len(written) <= 1, written
    return written[0] if written else None


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key="chat_input").set_value(text).run()


def settle(at: AppTest) -> AppTest:
    """Let the injected enricher finish its jobs, then rerun, as the user's next click would."""
    enricher = at.session_state[state_keys.ENRICHER]
    assert isinstance(enricher, Enricher) and enricher.wait_idle(WAIT)
    return at.run()


def chat_texts(at: AppTest) -> list[tuple[str, str]]:
    """Each bubble's role and text: a user's is plain text, an assistant's Markdown."""
    return [
        (m.name, m.text[0].value if m.name == "user" else m.markdown[0].value)
        for m in at.main.chat_message
    ]


def literal(markdown: str) -> str:
    """The text a label escaped with `plain.markdown_literal` shows."""
    return _ESCAPED.sub(r"\1", markdown)


def open_buttons(at: AppTest) -> list[str]:
    """The titles of the sidebar's rows, as they read."""
    return [literal(b.label) for b in at.sidebar.button if b.key and b.key.startswith("open_")]


def conversation_ids(at: AppTest) -> list[str]:
    """The ids of the conversations the sidebar lists, in order."""
    return [
        b.key.removeprefix("open_")
        for b in at.sidebar.button
        if b.key and b.key.startswith("open_")
    ]
