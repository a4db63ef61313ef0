"""Every CLI command, run as a subprocess over real SQLite files, with its exit codes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_support import (
    CLI_TIMEOUT,
    MODULE,
    Cli,
    clean_env,
    run_cli,
    seed_plain_conversation,
    stored_documents,
    url,
)

from conversation_store import Conversation, ConversationManager, SQLiteStore

Seeded = tuple[Path, list[Conversation]]


def alice_documents(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    return {key: doc for key, doc in stored_documents(path).items() if key[0] == "alice"}


# -- export and import ----------------------------------------------------------------------


def test_export_prints_a_json_bundle_of_the_customer(cli: Cli, seeded: Seeded) -> None:
    path, conversations = seeded
    done = cli("--store", url(path), "export", "--customer", "alice")
    assert done.returncode == 0
    bundle = json.loads(done.stdout)
    assert bundle["format"] == "conversation-store/export"
    assert {d["id"] for d in bundle["conversations"]} == {c.id for c in conversations[:2]}
    assert "exported 2 conversation(s) of customer 'alice'" in done.stderr


def test_export_then_import_is_lossless(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    path, _ = seeded
    exported = tmp_path / "alice.json"
    saved = cli("--store", url(path), "export", "--customer", "alice", "--output", str(exported))
    assert (saved.returncode, saved.stdout) == (0, "")
    target = tmp_path / "target.db"

    done = cli("--store", url(target), "import", str(exported))

    assert (done.returncode, done.stdout) == (0, "created 2, merged 0, unchanged 0\n")
    copied = stored_documents(target)
    assert copied == alice_documents(path)  # ids, timestamps, metadata, header: identical
    rich = next(doc for doc in copied.values() if doc["title"] == "Trip to Tokyo")
    assert rich["messages"][2]["tool_calls"][0]["function"]["name"] == "weather"
    assert rich["messages"][3]["tool_call_id"] == "call_1"


def test_import_twice_changes_nothing_and_reads_standard_input(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    path, _ = seeded
    bundle = cli("--store", url(path), "export", "--customer", "alice").stdout
    target = url(tmp_path / "target.db")
    assert cli("--store", target, "import", "-", stdin=bundle).stdout.startswith("created 2")
    again = cli("--store", target, "import", "-", "--customer", "alice", stdin=bundle)
    assert (again.returncode, again.stdout) == (0, "created 0, merged 0, unchanged 2\n")


def test_import_adds_only_the_missing_messages(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    path, conversations = seeded
    target = url(tmp_path / "target.db")
    first = cli("--store", url(path), "export", "--customer", "bob").stdout
    cli("--store", target, "import", "-", stdin=first)
    with ConversationManager.from_url(url(path)) as manager:
        manager.append_message(conversations[2].id, "bob", "user", "one more")
    second = cli("--store", url(path), "export", "--customer", "bob").stdout

    done = cli("--store", target, "import", "-", stdin=second)

    assert done.stdout == "created 0, merged 1, unchanged 0\n"
    assert stored_documents(tmp_path / "target.db")[("bob", conversations[2].id)]["messages"][-1][
        "content"
    ] == ("one more")


def test_import_refuses_another_customers_document_and_writes_nothing(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    path, _ = seeded
    bundle = cli("--store", url(path), "export", "--customer", "alice").stdout
    target = tmp_path / "target.db"

    done = cli("--store", url(target), "import", "-", "--customer", "bob", stdin=bundle)

    assert done.returncode == 2
    assert "belongs to customer 'alice', not 'bob'; import refused" in done.stderr
    assert stored_documents(target) == {}


def test_import_refuses_to_overwrite_a_different_message(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    bundle = json.loads(cli("--store", url(path), "export", "--customer", "bob").stdout)
    bundle["conversations"][0]["messages"][0]["content"] = "rewritten"

    done = cli("--store", url(path), "import", "-", stdin=json.dumps(bundle))

    assert done.returncode == 1  # a ConflictError: a store error, not bad input
    assert "differs from the stored one" in done.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["import", "-"], "not json", "import is not valid JSON"),
        (["import", "missing.json"], None, "cannot read missing.json"),
        (["import", "-"], '{"id": "c_1"}', "import document #0 is invalid"),
    ],
)
def test_a_bad_import_is_invalid_input(
    cli: Cli, tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    done = cli("--store", url(tmp_path / "t.db"), *args, stdin=stdin)
    assert done.returncode == 2
    assert message in done.stderr


def test_export_one_conversation_as_markdown_to_a_file(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    path, conversations = seeded
    rich = conversations[0]
    args = ["--conversation", rich.id, "--format", "markdown", "--output", "t.md"]

    done = cli("--store", url(path), "export", "--customer", "alice", *args)

    assert (done.returncode, done.stdout) == (0, "")
    markdown = (tmp_path / "t.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Trip to Tokyo\n")
    assert "Héllo" in markdown and "Tool call `weather`" in markdown


def test_exporting_a_missing_conversation_exits_3(cli: Cli, seeded: Seeded) -> None:
    path, conversations = seeded
    bobs = conversations[2].id  # exists, but not for alice
    done = cli("--store", url(path), "export", "--customer", "alice", "--conversation", bobs)
    assert done.returncode == 3
    assert done.stderr == f"error: conversation {bobs!r} not found for customer 'alice'\n"


# -- stats, search, cleanup, delete-customer -----------------------------------------------


def test_stats_prints_a_table(cli: Cli, seeded: Seeded) -> None:
    path, conversations = seeded
    done = cli("--store", url(path), "stats")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert "Conversations              3" in lines
    assert "Messages                   9" in lines
    assert f"Longest conversation       {conversations[0].id} (5 messages)" in lines
    assert any(line.split() == ["alice", "2", "7"] for line in lines)
    day = conversations[0].messages[0].timestamp.strftime("%Y-%m-%d")
    assert any(line.strip().startswith(day) and line.endswith("#") for line in lines)


def test_stats_json_is_the_managers_stats(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    done = cli("--store", url(path), "stats", "--customer", "bob", "--json")
    with ConversationManager.from_url(url(path)) as manager:
        expected = manager.get_stats("bob").model_dump(mode="json")
    assert json.loads(done.stdout) == expected
    assert expected["conversations"] == 1


def test_search_prints_matching_messages(cli: Cli, seeded: Seeded) -> None:
    path, conversations = seeded
    done = cli("--store", url(path), "search", "--customer", "alice", "tokyo")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert all(f"{conversations[0].id} [Trip to Tokyo]" in line for line in lines)
    assert "2 message(s) found" in done.stderr
    found = cli("--store", url(path), "search", "--customer", "alice", "tok", "--json")
    hits = json.loads(found.stdout)
    assert {hit["role"] for hit in hits} == {"user", "assistant"}
    limited = cli("--store", url(path), "search", "--customer", "alice", "tokyo", "--limit", "1")
    assert len(limited.stdout.splitlines()) == 1


def test_an_empty_search_is_invalid_input(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    assert cli("--store", url(path), "search", "--customer", "alice", "  ").returncode == 2


def test_cleanup_deletes_conversations_idle_for_n_days(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    old = datetime(2020, 1, 1, tzinfo=UTC)
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        old_alice = seed_plain_conversation(manager, "alice", ["old"], updated_at=old).id
        old_bob = seed_plain_conversation(manager, "bob", ["old"], updated_at=old).id

    only_bob = cli("--store", url(path), "cleanup", "--days", "30", "--customer", "bob")
    assert (
        only_bob.stdout
        == "deleted 1 conversation(s) of customer 'bob': idle for 30 days or expired\n"
    )
    everyone = cli("--store", url(path), "cleanup", "--days", "30", "--yes")
    assert everyone.stdout.splitlines() == [
        "to delete: 1 conversation(s) of 1 customer(s): 'alice'",
        f"  alice/{old_alice}",
        "deleted 1 conversation(s): idle for 30 days or expired",
    ]

    remaining = {key[1] for key in stored_documents(path)}
    assert len(remaining) == 3 and not remaining & {old_alice, old_bob}
    assert cli("--store", url(path), "cleanup", "--days", "-1").returncode == 2


# -- choosing the store, and usage errors ---------------------------------------------------


def test_without_store_the_environment_decides(cli: Cli, seeded: Seeded, tmp_path: Path) -> None:
    path, _ = seeded
    done = cli("stats", "--json", CONVERSATION_STORE_URL=url(path))
    assert json.loads(done.stdout)["conversations"] == 3
    default = cli("stats")  # no settings at all: ./data/conversations.db, which is missing
    assert (default.returncode, default.stderr) == (
        2,
        "error: no SQLite store at data/conversations.db\n",
    )
    assert not (tmp_path / "data").exists()  # a read never creates an empty store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "mysql://x", "stats"], "store URL 'mysql://x'"),
        (["--store", "cosmos", "stats"], "the store 'cosmos' needs COSMOSDB_ENDPOINT"),
        (["stats", "--customer", "a/b"], "customer id"),
        (["export"], "the following arguments are required: --customer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["cleanup", "--days", "inf"], "argument --days: must be a number from 0 to 36500"),
        (["search", "--customer", "a", "x", "--limit", "0"], "limit must be an integer"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, seeded: Seeded, args: list[str], message: str) -> None:
    path, _ = seeded
    done = cli(*args, CONVERSATION_STORE_URL=url(path))
    assert done.returncode == 2
    assert message in done.stderr


def test_the_installed_script_runs(tmp_path: Path, seeded: Seeded) -> None:
    script = Path(sys.executable).parent / "conversation-store"
    if not script.exists():
        pytest.skip("the package is not installed with its console script")
    path, _ = seeded
    args = ("--store", url(path), "stats", "--json")
    done = run_cli(*args, env=clean_env(), cwd=tmp_path, program=[str(script)])
    assert (done.returncode, json.loads(done.stdout)["conversations"]) == (0, 3)


# -- what an operator sees (issue 18, finding 12) -------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--customer", "alcie"],
        ["export", "--customer", "alcie", "--output", "alcie.json"],
        ["search", "--customer", "alcie", "tokyo"],
        ["stats", "--customer", "alcie"],
        ["stats", "--customer", "alcie", "--json"],
    ],
)
def test_a_customer_without_conversations_is_not_found(
    cli: Cli, seeded: Seeded, tmp_path: Path, args: list[str]
) -> None:
    path, _ = seeded
    done = cli("--store", url(path), *args)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == "error: no conversations for customer 'alcie'\n"
    assert not (tmp_path / "alcie.json").exists()


def test_a_search_without_hits_of_a_known_customer_is_not_an_error(
    cli: Cli, seeded: Seeded
) -> None:
    path, _ = seeded
    done = cli("--store", url(path), "search", "--customer", "bob", "zebra")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "0 message(s) found\n")


def test_a_bad_role_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    document = {"id": "c_1", "customer_id": "a", "messages": [{"role": "robot", "content": "x"}]}
    done = cli("--store", url(tmp_path / "t.db"), "import", "-", stdin=json.dumps(document))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: import document #0 is invalid: messages.0.role: ")
    assert "'robot'" in done.stderr and "pydantic" not in done.stderr


def test_output_into_a_missing_folder_is_invalid_input(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    path, _ = seeded
    done = cli("--store", url(path), "export", "--customer", "bob", "--output", "no/such/b.json")
    assert (done.returncode, done.stderr) == (
        2,
        "error: cannot write no/such/b.json: no folder no/such\n",
    )
    assert not (tmp_path / "no").exists()


def test_a_reader_that_leaves_early_gets_no_broken_pipe_message(
    seeded: Seeded, tmp_path: Path
) -> None:
    path, _ = seeded
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        seed_plain_conversation(manager, "bob", ["word " * 2000 for _ in range(40)])  # ~400 KB
    export = shlex.join([*MODULE, "--store", url(path), "export", "--customer", "bob"])
    script = f"set -o pipefail; {export} | head -c 100 >/dev/null"
    done = subprocess.run(
        ["bash", "-c", script],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )
    assert (done.returncode, done.stderr) == (141, "")
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first byte
    closed = subprocess.run(
        [*MODULE, "--store", url(path), "stats"],
        stdout=writer,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=tmp_path,
        text=True,
        timeout=CLI_TIMEOUT,
    )
    os.close(writer)
    assert (closed.returncode, closed.stderr) == (141, "")


def test_the_stats_table_cuts_long_customer_ids_and_json_keeps_them(
    cli: Cli, seeded: Seeded
) -> None:
    path, _ = seeded
    long_id = "customer_" + "x" * 60
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        seed_plain_conversation(manager, long_id, ["a", "b", "c", "d"])
    done = cli("--store", url(path), "stats")
    lines = done.stdout.splitlines()
    header = next(
        line for line in lines if line.split() == ["customer", "conversations", "messages"]
    )
    row = next(line for line in lines if line.strip().startswith("customer_x"))
    assert row.split() == ["customer_" + "x" * 19 + "…", "1", "4"]  # 29 characters
    assert len(row) == len(header)  # the columns still line up
    whole = json.loads(cli("--store", url(path), "stats", "--json").stdout)
    assert long_id in {c["customer_id"] for c in whole["most_active_customers"]}
