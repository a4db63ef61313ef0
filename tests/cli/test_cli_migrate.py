"""`migrate` as a subprocess: SQLite to SQLite and to the local Cosmos server, run again and
again; every re-run resumes and nothing is ever copied twice."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from cli_support import (
    CLI_TIMEOUT,
    MODULE,
    Cli,
    clean_env,
    seed_plain_conversation,
    seed_rich_conversation,
    stored_documents,
    url,
)

from conversation_store import (
    Conversation,
    ConversationKey,
    ConversationManager,
    Message,
    SQLiteStore,
)
from support.cosmos_fixtures import TEST_DATABASE, CosmosTarget, open_cosmos_store

Seeded = tuple[Path, list[Conversation]]


def summary(created: int = 0, updated: int = 0, unchanged: int = 0, failed: int = 0) -> str:
    return (
        f"created {created}, updated {updated}, unchanged {unchanged}, skipped 0, failed {failed}"
    )


def migrate(cli: Cli, source: Path, target: str, *args: str, **env: str) -> tuple[int, str, str]:
    done = cli("migrate", "--from", url(source), "--to", target, *args, **env)
    return done.returncode, done.stdout, done.stderr


def test_a_second_run_finds_everything_unchanged(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    source, _ = seeded
    target = tmp_path / "target.db"

    code, out, err = migrate(cli, source, url(target))

    assert (code, err) == (0, "")  # stderr is not a TTY: no progress bar
    assert out == f"migrate {url(source)} -> {url(target)}: {summary(created=3)}\n"
    assert stored_documents(target) == stored_documents(source)
    again = migrate(cli, source, url(target), "--no-progress")
    assert again[:2] == (0, f"migrate {url(source)} -> {url(target)}: {summary(unchanged=3)}\n")
    assert stored_documents(target) == stored_documents(source)


def test_a_re_run_copies_only_what_is_new(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    source, conversations = seeded
    target = tmp_path / "target.db"
    partial = migrate(cli, source, url(target), "--customer", "alice")  # as if cut short
    assert summary(created=2) in partial[1]
    assert summary(created=1, unchanged=2) in migrate(cli, source, url(target))[1]
    with ConversationManager(SQLiteStore(source), owns_store=True) as manager:
        manager.append_message(conversations[2].id, "bob", "assistant", "anything else?")
        seed_plain_conversation(manager, "carol", ["new here"])

    code, out, _ = migrate(cli, source, url(target))

    assert (code, summary(created=1, updated=1, unchanged=2) in out) == (0, True)
    copied, original = stored_documents(target), stored_documents(source)
    bob = ("bob", conversations[2].id)
    assert {k: v for k, v in copied.items() if k != bob} == {
        k: v for k, v in original.items() if k != bob
    }
    # An update appends, so the copy's updated_at is the migration's; all else is the source's.
    assert {**copied[bob], "updated_at": None} == {**original[bob], "updated_at": None}
    assert [m["content"] for m in copied[bob]["messages"]][-1] == "anything else?"


def test_one_failing_conversation_does_not_stop_the_others(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    source, conversations = seeded
    bob = conversations[2]
    target = tmp_path / "target.db"
    clash = bob.model_copy(deep=True)
    # The same id on a message of another role: two messages, not one edited twice.
    clash.messages = [Message(id=bob.messages[0].id, role="assistant", content="something else")]
    with SQLiteStore(target) as store:
        store.create_conversation(clash)

    code, out, err = migrate(cli, source, url(target))

    assert code == 1
    assert summary(created=2, failed=1) in out
    assert err.startswith(f"failed: bob/{bob.id}: conversation {bob.id!r}: message ")
    copied = stored_documents(target)
    assert {k: v for k, v in copied.items() if k[0] == "alice"} == {
        k: v for k, v in stored_documents(source).items() if k[0] == "alice"
    }
    assert migrate(cli, source, url(target))[:2] == (
        1,
        f"migrate {url(source)} -> {url(target)}: {summary(unchanged=2, failed=1)}\n",
    )


def test_a_re_run_carries_what_the_source_changed_and_keeps_what_the_target_did(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    """The catch-up run after the app switched stores: the copy written last wins."""
    source, (rich, picnic, bob) = seeded
    target = tmp_path / "target.db"
    assert summary(created=3) in migrate(cli, source, url(target))[1]
    hello, hi = (m.id for m in bob.messages)
    assert hello is not None and hi is not None
    with ConversationManager(SQLiteStore(source), owns_store=True) as manager:
        manager.rename_conversation(rich.id, "alice", "Renamed in the source")
        manager.set_summary(rich.id, "alice", "A trip, summarized")
        manager.archive_conversation(picnic.id, "alice")
        manager.edit_message(bob.id, "bob", hello, "Hello there, edited")
        manager.delete_message(bob.id, "bob", hi)
        manager.append_message(bob.id, "bob", "user", "still there?")
    with ConversationManager(SQLiteStore(target), owns_store=True) as app:  # after the switch
        app.append_message(picnic.id, "alice", "user", "written in the target")

    code, out, _ = migrate(cli, source, url(target))

    assert (code, summary(updated=2, unchanged=1) in out) == (0, True)
    copied = stored_documents(target)
    assert copied[("alice", rich.id)]["title"] == "Renamed in the source"
    assert copied[("alice", rich.id)]["summary"] == "A trip, summarized"
    # Written in the target after the source archived it: the target's header stays.
    assert copied[("alice", picnic.id)].get("archived", False) is False
    assert copied[("alice", picnic.id)]["messages"][-1]["content"] == "written in the target"
    assert [m["content"] for m in copied[("bob", bob.id)]["messages"]] == [
        "Hello there, edited",
        "Hi bob",  # deleted in the source: a copy never deletes
        "still there?",
    ]
    assert summary(unchanged=3) in migrate(cli, source, url(target))[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "SAME"], "--from and --to name the same store"),
        (["--to", "sqlite:///other.db", "--customer", " x"], "customer id"),
        (["--to", "cosmos"], "the store 'cosmos' needs COSMOSDB_ENDPOINT"),
    ],
)
def test_bad_migrations_exit_2(cli: Cli, seeded: Seeded, args: list[str], message: str) -> None:
    source, _ = seeded
    args = [url(source) if arg == "SAME" else arg for arg in args]
    done = cli("migrate", "--from", url(source), *args)
    assert (done.returncode, message in done.stderr) == (2, True)


def test_a_missing_source_or_a_global_store_is_refused(cli: Cli, tmp_path: Path) -> None:
    missing = cli("migrate", "--from", url(tmp_path / "nope.db"), "--to", url(tmp_path / "t.db"))
    assert (missing.returncode, missing.stderr) == (
        2,
        f"error: no SQLite store at {tmp_path}/nope.db\n",
    )
    store = cli("--store", "sqlite:///x.db", "migrate", "--from", "a", "--to", "b")
    assert (store.returncode, store.stderr) == (
        2,
        "error: migrate takes --from and --to, not --store\n",
    )


@pytest.mark.cosmos
def test_migrate_sqlite_to_cosmos_is_idempotent(
    cli: Cli,
    seeded: Seeded,
    cosmos_container: tuple[CosmosTarget, str],
) -> None:
    source, _ = seeded
    with ConversationManager(SQLiteStore(source), owns_store=True) as manager:
        # Larger than the default head bound (256 KiB): created as a head plus sealed segments.
        long = seed_plain_conversation(manager, "dave", ["x" * 9000 for _ in range(40)])
        seed_rich_conversation(manager, "dave", title="Second")
    target, container = cosmos_container
    env = {
        "COSMOSDB_ENDPOINT": target.endpoint,
        "COSMOSDB_KEY": target.key,
        "COSMOSDB_DATABASE": TEST_DATABASE,
        "COSMOSDB_AIConversations_CONTAINER": container,
        "COSMOSDB_INSECURE_EMULATOR_TLS": "false" if target.verify_tls else "true",
    }

    first = migrate(cli, source, "cosmos", **env)
    second = migrate(cli, source, "cosmos", **env)

    assert first == (0, f"migrate {url(source)} -> cosmos: {summary(created=5)}\n", "")
    assert second[:2] == (0, f"migrate {url(source)} -> cosmos: {summary(unchanged=5)}\n")
    expected = stored_documents(source)
    with open_cosmos_store(target, container) as store:
        copied = {
            key: store.get_conversation(ConversationKey(*key)).to_document() for key in expected
        }
    assert copied == expected
    assert len(copied[("dave", long.id)]["messages"]) == 40
    stats = cli("--store", "cosmos", "stats", "--json", **env)
    assert (stats.returncode, json.loads(stats.stdout)["conversations"]) == (0, 5)


@pytest.mark.cosmos
def test_migrate_back_from_cosmos_into_a_new_sqlite_file(
    cli: Cli, seeded: Seeded, tmp_path: Path, cosmos_container: tuple[CosmosTarget, str]
) -> None:
    source, _ = seeded
    target, container = cosmos_container
    env = {
        "COSMOSDB_ENDPOINT": target.endpoint,
        "COSMOSDB_KEY": target.key,
        "COSMOSDB_DATABASE": TEST_DATABASE,
        "COSMOSDB_AIConversations_CONTAINER": container,
        "COSMOSDB_INSECURE_EMULATOR_TLS": "false" if target.verify_tls else "true",
    }
    assert migrate(cli, source, "cosmos", **env)[0] == 0
    back = tmp_path / "back.db"

    done = cli("migrate", "--from", "cosmos", "--to", url(back), **env)

    assert (done.returncode, done.stdout) == (
        0,
        f"migrate cosmos -> {url(back)}: {summary(created=3)}\n",
    )
    assert stored_documents(back) == stored_documents(source)


@pytest.mark.postgres
def test_migrate_sqlite_to_postgresql_and_back(
    cli: Cli, seeded: Seeded, tmp_path: Path, postgres_url: str
) -> None:
    source, _ = seeded
    back = tmp_path / "back.db"

    there = migrate(cli, source, postgres_url)
    again = migrate(cli, source, postgres_url)
    home = cli("migrate", "--from", postgres_url, "--to", url(back))

    assert (there[0], summary(created=3) in there[1]) == (0, True), there[2]
    assert (again[0], summary(unchanged=3) in again[1]) == (0, True)
    assert (home.returncode, summary(created=3) in home.stdout) == (0, True), home.stderr
    assert stored_documents(back) == stored_documents(source)
    stats = cli("--store", postgres_url, "stats", "--json")
    assert (stats.returncode, json.loads(stats.stdout)["conversations"]) == (0, 3)


def test_any_store_url_the_settings_open_is_a_migration_end(cli: Cli, seeded: Seeded) -> None:
    """The URL is the settings' to open: `memory://` here (a new empty store each time)."""
    source, _ = seeded
    code, out, _ = migrate(cli, source, "memory://")
    assert (code, out) == (0, f"migrate {url(source)} -> memory://: {summary(created=3)}\n")
    unknown = migrate(cli, source, "mysql://db/x")
    assert (unknown[0], "'mysql://db/x'" in unknown[2]) == (2, True)


def run_with_tty_stderr(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal, as in an operator's shell; returns the
    exit code and what the terminal showed."""
    controller, terminal = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, and tqdm draws nothing in 0 columns.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(
        [*MODULE, *args], stdout=subprocess.DEVNULL, stderr=terminal, cwd=cwd, env=clean_env()
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=CLI_TIMEOUT)
    os.close(controller)
    return code, shown.decode("utf-8", "replace")


def test_a_terminal_shows_a_progress_bar_unless_told_not_to(seeded: Seeded, tmp_path: Path) -> None:
    source, _ = seeded
    args = ["migrate", "--from", url(source), "--to", url(tmp_path / "target.db")]
    code, shown = run_with_tty_stderr(args, tmp_path)
    assert (code, "migrating: 100%" in shown, "3/3" in shown) == (0, True, True)
    assert run_with_tty_stderr([*args, "--no-progress"], tmp_path) == (0, "")
