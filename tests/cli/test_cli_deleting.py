"""The deleting commands ask first: `cleanup` of every customer, `delete-customer` (and `outbox
drop`, in test_cli_outbox.py) print their plan and delete only with `--yes`; `--dry-run`
prints the same plan and deletes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_support import Cli, seed_plain_conversation, stored_documents, url

from conversation_store import (
    Conversation,
    ConversationKey,
    ConversationManager,
    ConversationSummary,
    SQLiteStore,
)
from conversation_store.operations import DeletionPlan, cleanup_plan, plan_customer_deletion

Seeded = tuple[Path, list[Conversation]]
OLD = datetime(2020, 1, 1, tzinfo=UTC)
REFUSAL = "error: refusing to delete without --yes (see --dry-run)\n"


def add_old_conversations(path: Path, customers: list[str]) -> list[str]:
    """One conversation idle since 2020 per entry of `customers`; their ids."""
    with ConversationManager(SQLiteStore(path), owns_store=True) as manager:
        return [seed_plain_conversation(manager, c, ["old"], updated_at=OLD).id for c in customers]


def test_cleanup_of_every_customer_prints_the_plan_and_refuses_without_yes(
    cli: Cli, seeded: Seeded
) -> None:
    path, _ = seeded
    old_alice, old_bob = add_old_conversations(path, ["alice", "bob"])
    before = stored_documents(path)

    refused = cli("--store", url(path), "cleanup", "--days", "0")

    assert (refused.returncode, refused.stderr) == (2, REFUSAL)
    assert stored_documents(path) == before
    lines = refused.stdout.splitlines()
    assert lines[0] == "to delete: 5 conversation(s) of 2 customer(s): 'alice', 'bob'"
    assert f"  alice/{old_alice}" in lines and f"  bob/{old_bob}" in lines
    assert len(lines) == 6


def test_dry_run_prints_the_same_plan_and_deletes_nothing(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    old_alice, old_bob = add_old_conversations(path, ["alice", "bob"])
    before = stored_documents(path)

    dry = cli("--store", url(path), "cleanup", "--days", "30", "--dry-run")
    one = cli("--store", url(path), "cleanup", "--days", "30", "--customer", "bob", "--dry-run")

    assert (dry.returncode, dry.stderr) == (0, "")
    assert dry.stdout == (
        "to delete: 2 conversation(s) of 2 customer(s): 'alice', 'bob'\n"
        f"  alice/{old_alice}\n  bob/{old_bob}\ndry run: nothing deleted\n"
    )
    assert one.stdout == (
        f"to delete: 1 conversation(s) of 1 customer(s): 'bob'\n  bob/{old_bob}\n"
        "dry run: nothing deleted\n"
    )
    assert stored_documents(path) == before


def test_cleanup_with_yes_deletes_what_the_plan_listed(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    old = set(add_old_conversations(path, ["alice", "bob"]))
    kept = set(stored_documents(path)) - {k for k in stored_documents(path) if k[1] in old}

    done = cli("--store", url(path), "cleanup", "--days", "30", "--yes")

    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == (
        "to delete: 2 conversation(s) of 2 customer(s): 'alice', 'bob'"
    )
    assert done.stdout.endswith("deleted 2 conversation(s): idle for 30 days or expired\n")
    assert set(stored_documents(path)) == kept


def test_a_long_plan_shows_twenty_ids_and_how_many_more(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    ids = add_old_conversations(path, [f"c{n:02}" for n in range(25)])

    refused = cli("--store", url(path), "cleanup", "--days", "1")

    lines = refused.stdout.splitlines()
    customers = ", ".join(f"'c{n:02}'" for n in range(20))
    assert lines[0] == f"to delete: 25 conversation(s) of 25 customer(s): {customers} and 5 more"
    assert lines[1:21] == [f"  c{n:02}/{ids[n]}" for n in range(20)]
    assert lines[21:] == ["  and 5 more"]
    assert len(stored_documents(path)) == 25


def test_delete_customer_prints_the_plan_and_needs_yes(cli: Cli, seeded: Seeded) -> None:
    path, conversations = seeded
    alices = sorted(c.id for c in conversations[:2])
    plan = [
        "to delete: 2 conversation(s) of 1 customer(s): 'alice'",
        *[f"  alice/{conversation_id}" for conversation_id in alices],
    ]

    refused = cli("--store", url(path), "delete-customer", "--customer", "alice")
    dry = cli("--store", url(path), "delete-customer", "--customer", "alice", "--dry-run")

    assert (refused.returncode, refused.stdout.splitlines(), refused.stderr) == (2, plan, REFUSAL)
    assert (dry.returncode, dry.stdout.splitlines()) == (0, [*plan, "dry run: nothing deleted"])
    assert len(stored_documents(path)) == 3

    done = cli("--store", url(path), "delete-customer", "--customer", "alice", "--yes")

    assert done.returncode == 0
    assert done.stdout.splitlines() == [*plan, "deleted 2 conversation(s) of customer 'alice'"]
    assert [key[0] for key in stored_documents(path)] == ["bob"]


def test_deleting_a_customer_without_conversations_deletes_nothing(
    cli: Cli, seeded: Seeded
) -> None:
    path, _ = seeded
    done = cli("--store", url(path), "delete-customer", "--customer", "alcie")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "no conversations for customer 'alcie': nothing to delete\n"
    assert len(stored_documents(path)) == 3


def test_yes_and_dry_run_together_are_a_usage_error(cli: Cli, seeded: Seeded) -> None:
    path, _ = seeded
    args = ("delete-customer", "--customer", "alice", "--yes", "--dry-run")
    done = cli("--store", url(path), *args)
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr
    assert len(stored_documents(path)) == 3


# -- the plans, as operations computes them -------------------------------------------------


def summary(
    conversation_id: str, customer_id: str, updated: datetime, ttl: int | None = None
) -> ConversationSummary:
    return ConversationSummary(
        id=conversation_id, customer_id=customer_id, created_at=updated, updated_at=updated, ttl=ttl
    )


def test_the_cleanup_plan_takes_idle_and_expired_conversations_in_order() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    summaries = [
        summary("c_idle", "bob", datetime(2025, 4, 1, tzinfo=UTC)),
        summary("c_fresh", "ann", datetime(2025, 5, 31, tzinfo=UTC)),
        summary("c_expired", "ann", datetime(2025, 5, 30, tzinfo=UTC), ttl=3600),
        summary("c_ttl_left", "ann", datetime(2025, 5, 30, tzinfo=UTC), ttl=30 * 86400),
    ]

    plan = cleanup_plan(summaries, 30, now=now)

    assert plan == DeletionPlan(
        (ConversationKey("ann", "c_expired"), ConversationKey("bob", "c_idle"))
    )
    assert plan.customers == ["ann", "bob"]
    assert len(cleanup_plan(summaries, 0, now=now).conversations) == 4


def test_the_customer_plan_is_every_conversation_of_the_customer(seeded: Seeded) -> None:
    path, conversations = seeded
    with SQLiteStore(path) as store:
        plan = plan_customer_deletion(store, "alice")
    assert plan.conversations == tuple(
        sorted(ConversationKey("alice", c.id) for c in conversations[:2])
    )


@pytest.mark.parametrize("days", ["30", "0"])
def test_dry_run_of_one_customers_cleanup_deletes_nothing(
    cli: Cli, seeded: Seeded, days: str
) -> None:
    path, _ = seeded
    add_old_conversations(path, ["bob"])
    before = stored_documents(path)
    done = cli("--store", url(path), "cleanup", "--days", days, "--customer", "bob", "--dry-run")
    assert done.returncode == 0 and done.stdout.endswith("dry run: nothing deleted\n")
    assert stored_documents(path) == before
