"""Run the CLI as operators do (a real subprocess) and seed SQLite files with the library API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from conversation_store import Conversation, ConversationKey, ConversationManager, SQLiteStore

CLI_TIMEOUT = 120  # seconds; generous for a loaded 2-core machine, never a speed assertion
MODULE = (sys.executable, "-m", "conversation_store.cli")

Cli = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any store setting, so only the test's settings
    (and `--store`) decide where the CLI reads and writes."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COSMOSDB_", "CONVERSATION_STORE_"))
    }
    return {**env, **extra}


def run_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    stdin: str | None = None,
    program: Sequence[str] = MODULE,
) -> subprocess.CompletedProcess[str]:
    """`python -m conversation_store.cli ARGS`; expected errors must never print a traceback."""
    done = subprocess.run(
        [*program, *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=CLI_TIMEOUT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def seed_rich_conversation(
    manager: ConversationManager, customer_id: str, *, title: str = "Trip to Tokyo"
) -> Conversation:
    """A stored conversation using every header field and message feature the format has."""
    doc = manager.create_conversation_document(
        customer_id, "session-1", title=title, persona="guide", metadata={"lang": "en", "n": [1]}
    )
    manager.add_message_to_conversation(doc, "system", "Be brief.")
    manager.add_message_to_conversation(doc, "user", "Weather in Tokyo? Héllo", tokens=5)
    manager.add_message_to_conversation(
        doc,
        "assistant",
        None,
        tool_calls=[{"id": "call_1", "function": {"name": "weather", "arguments": '{"c":"T"}'}}],
        metadata={"model": "gpt-4o"},
    )
    manager.add_message_to_conversation(doc, "tool", "sunny", tool_call_id="call_1", name="weather")
    manager.add_message_to_conversation(doc, "assistant", "It is sunny in Tokyo.")
    manager.save_conversation(doc)
    manager.set_summary(doc.id, customer_id, "weather in Tokyo")
    manager.set_conversation_ttl(doc.id, customer_id, 90 * 86400)
    manager.archive_conversation(doc.id, customer_id)
    return manager.load_conversation(doc.id, customer_id)


def seed_plain_conversation(
    manager: ConversationManager,
    customer_id: str,
    texts: list[str],
    *,
    updated_at: datetime | None = None,
) -> Conversation:
    """A conversation of alternating user/assistant messages; `updated_at` backdates it."""
    doc = manager.create_conversation_document(customer_id, "session-2")
    for n, text in enumerate(texts):
        manager.add_message_to_conversation(doc, "user" if n % 2 == 0 else "assistant", text)
    if updated_at is not None:
        doc.updated_at = updated_at
    manager.save_conversation(doc)
    return manager.load_conversation(doc.id, customer_id)


def seed_store(path: Path) -> list[Conversation]:
    """Two customers: alice (a rich archived conversation and a plain one), bob (one)."""
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        return [
            seed_rich_conversation(manager, "alice"),
            seed_plain_conversation(manager, "alice", ["Plan a picnic", "Bring bread"]),
            seed_plain_conversation(manager, "bob", ["Hello there", "Hi bob"]),
        ]


def stored_documents(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every conversation in the SQLite file, loaded whole, as documents keyed by
    (customer, id)."""
    with SQLiteStore(path) as store:
        return {
            (s.customer_id, s.id): store.get_conversation(
                ConversationKey(s.customer_id, s.id)
            ).to_document()
            for s in store.scan_conversations()
        }
