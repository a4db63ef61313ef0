"""`outbox list | show | requeue | drop` as a subprocess over a real outbox file holding writes
the primary store refused for good (parked)."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli

from conversation_store import ConversationKey
from conversation_store.stores.outbox.queue import OutboxQueue

REFUSAL = "error: refusing to delete without --yes (see --dry-run)\n"
PAYLOAD: dict[str, Any] = {"messages": [{"id": "m_1", "role": "user", "content": "Grüße"}]}


def park(path: Path, key: ConversationKey, error: str) -> int:
    """Queue one append of `key` in the outbox file and park it; its seq."""
    with closing(OutboxQueue(path)) as queue:
        queue.put(key, "append", PAYLOAD)
        seq = queue.pending()[-1].seq
        queue.park(seq, error)
    return seq


@pytest.fixture
def outbox(tmp_path: Path) -> tuple[Path, int, int]:
    """An outbox with one pending write and two parked ones (alice's and bob's)."""
    path = tmp_path / "outbox.db"
    with closing(OutboxQueue(path)) as queue:
        queue.put(ConversationKey("carol", "c_pending"), "append", PAYLOAD)
    alice = park(path, ConversationKey("alice", "c_" + "a" * 40), "413: the item is too large")
    bob = park(path, ConversationKey("bob", "c_bob"), "403: forbidden")
    return path, alice, bob


def parked_seqs(path: Path) -> list[int]:
    with closing(OutboxQueue(path)) as queue:
        return [write.seq for write in queue.parked()]


def test_list_shows_each_parked_write(cli: Cli, outbox: tuple[Path, int, int]) -> None:
    path, alice, bob = outbox
    done = cli("outbox", "list", "--outbox", str(path))
    assert (done.returncode, done.stderr) == (0, "2 parked write(s)\n")
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["seq", "parked_at", "customer", "conversation", "operation", "error"]
    assert rows[0].split()[0] == str(alice)
    assert f" c_{'a' * 21}… " in rows[0]  # a long id is cut to 24 characters in the table only
    assert rows[0].endswith("append           413: the item is too large")
    assert rows[1].split()[0::2][:3] == [str(bob), "bob", "append"]


def test_list_json_keeps_every_field_whole(cli: Cli, outbox: tuple[Path, int, int]) -> None:
    path, alice, bob = outbox
    listed = json.loads(cli("outbox", "list", "--json", CONVERSATION_STORE_OUTBOX=str(path)).stdout)
    assert [w["seq"] for w in listed] == [alice, bob]
    assert listed[0]["conversation_id"] == "c_" + "a" * 40
    assert set(listed[0]) == {
        "seq",
        "customer_id",
        "conversation_id",
        "operation",
        "error",
        "queued_at",
        "parked_at",
    }
    assert listed[1]["error"] == "403: forbidden"
    assert listed[1]["parked_at"].endswith("Z")


def test_show_prints_the_write_with_its_payload(cli: Cli, outbox: tuple[Path, int, int]) -> None:
    path, _, bob = outbox
    done = cli("outbox", "show", str(bob), "--outbox", str(path))
    shown = json.loads(done.stdout)
    assert (done.returncode, shown["customer_id"], shown["payload"]) == (0, "bob", PAYLOAD)
    assert "Grüße" in done.stdout


def test_requeue_makes_the_write_pending_again(cli: Cli, outbox: tuple[Path, int, int]) -> None:
    path, alice, bob = outbox
    done = cli("outbox", "requeue", str(bob), "--outbox", str(path))
    assert done.returncode == 0
    assert done.stdout.startswith(f"requeued parked write {bob} (append of conversation 'c_bob'")
    assert parked_seqs(path) == [alice]
    with closing(OutboxQueue(path)) as queue:
        assert [w.conversation_id for w in queue.pending()] == ["c_pending", "c_bob"]


def test_drop_asks_first_and_dry_run_keeps_the_write(
    cli: Cli, outbox: tuple[Path, int, int]
) -> None:
    path, alice, bob = outbox
    plan = f"to drop: parked write {bob} (append of conversation 'c_bob' of customer 'bob')"

    refused = cli("outbox", "drop", str(bob), "--outbox", str(path))
    dry = cli("outbox", "drop", str(bob), "--outbox", str(path), "--dry-run")

    assert (refused.returncode, refused.stdout, refused.stderr) == (2, plan + "\n", REFUSAL)
    assert (dry.returncode, dry.stdout) == (0, plan + "\ndry run: nothing deleted\n")
    assert parked_seqs(path) == [alice, bob]

    done = cli("outbox", "drop", str(bob), "--outbox", str(path), "--yes")

    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == f"dropped {plan.removeprefix('to drop: ')}"
    assert parked_seqs(path) == [alice]


@pytest.mark.parametrize("action", ["show", "requeue", "drop"])
def test_an_unknown_or_pending_seq_is_invalid_input(
    cli: Cli, outbox: tuple[Path, int, int], action: str
) -> None:
    path, alice, bob = outbox
    with closing(OutboxQueue(path)) as queue:
        (pending,) = (write.seq for write in queue.pending())  # carol's: waiting, not parked
    confirm = ["--yes"] if action == "drop" else []
    for seq in (pending, 999):
        done = cli("outbox", action, str(seq), "--outbox", str(path), *confirm)
        assert (done.returncode, done.stderr) == (2, f"error: no parked write {seq}\n")
    assert parked_seqs(path) == [alice, bob]


def test_a_missing_or_disabled_outbox_is_refused(cli: Cli, tmp_path: Path) -> None:
    missing = cli("outbox", "list")  # the default: data/outbox.db, which does not exist
    assert (missing.returncode, missing.stderr) == (2, "error: no outbox at data/outbox.db\n")
    assert not (tmp_path / "data").exists()  # looking never creates an outbox
    off = cli("outbox", "list", CONVERSATION_STORE_OUTBOX="off")
    assert off.returncode == 2
    assert "the outbox is off (CONVERSATION_STORE_OUTBOX); use --outbox PATH" in off.stderr


def test_an_empty_outbox_lists_nothing(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    OutboxQueue(path).close()
    done = cli("outbox", "list", "--json", "--outbox", str(path))
    assert (done.returncode, json.loads(done.stdout), done.stderr) == (0, [], "0 parked write(s)\n")
