"""The operator CLI: `conversation-store [--store URL] COMMAND ...` (see docs/cli.md).

Commands: export, import, stats, cleanup, search, migrate, delete-customer. The store is
`--store sqlite:///path`, `--store cosmos` (the COSMOSDB_* settings), or what the environment
names (`Settings.from_env`). Cosmos DB is used directly, never through the offline outbox: an
operator wants a failure reported, not a write queued on their laptop.

Exit codes: 0 done; 1 a store error, or some conversations failed to migrate; 2 invalid input
(including bad arguments); 3 conversation not found; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from tqdm import tqdm

from conversation_store.exceptions import (
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
)
from conversation_store.export import render_export
from conversation_store.manager import ConversationManager
from conversation_store.models import SearchHit, Stats
from conversation_store.settings import Settings, open_store, sqlite_path
from conversation_store.stores.protocol import ConversationStore
from conversation_store.transfer import Outcome, TransferReport, transfer
from conversation_store.validation import MAX_IMPORT_BYTES

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

MAX_CLEANUP_DAYS = 36_500  # a century: beyond it the cut-off date leaves datetime's range
DAYS_SHOWN = 14  # the stats table shows the most recent days; --json has them all
BAR_WIDTH = 30

Command = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; expected errors never show a traceback."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or the help
        return exc.code if isinstance(exc.code, int) else EXIT_INVALID
    command: Command = args.command
    try:
        return command(args)
    except InvalidInputError as exc:
        return _fail(exc, EXIT_INVALID)
    except ConversationNotFoundError as exc:
        return _fail(exc, EXIT_NOT_FOUND)
    except (ConversationStoreError, OSError) as exc:
        return _fail(exc, EXIT_FAILED)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conversation-store",
        description="Export, import, migrate, search, clean up and count stored conversations.",
        epilog="Exit codes: 0 done, 1 store error or failed conversations, 2 invalid input, "
        "3 not found.",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///path or cosmos (the COSMOSDB_* settings); default: from the environment",
    )
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    _add_export(commands)
    _add_import(commands)
    _add_stats(commands)
    _add_cleanup(commands)
    _add_search(commands)
    _add_migrate(commands)
    _add_delete_customer(commands)
    return parser


# -- the commands ---------------------------------------------------------------------------


def _add_export(commands: Subparsers) -> None:
    parser = commands.add_parser("export", help="write a customer's conversations (JSON/Markdown)")
    parser.add_argument("--customer", required=True)
    parser.add_argument("--conversation", metavar="ID", help="only this conversation")
    parser.add_argument("--format", choices=["json", "markdown"], default="json")
    parser.add_argument("--output", metavar="FILE", help="default: standard output")
    parser.set_defaults(command=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export before writing anything, so a failed export never leaves a truncated file."""
    with open_manager(_store_of(args)) as manager:
        if args.conversation is None:
            conversations = list(manager.iter_customer_conversations(args.customer))
        else:
            conversations = [manager.load_conversation(args.conversation, args.customer)]
        text = render_export(conversations, args.format)
    data = text.encode("utf-8")  # the export format is UTF-8 whatever the console uses
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(args.output).write_bytes(data)
    where = "" if args.output is None else f" to {args.output}"
    _note(f"exported {len(conversations)} conversation(s) of customer {args.customer!r}{where}")
    return EXIT_OK


def _add_import(commands: Subparsers) -> None:
    parser = commands.add_parser("import", help="store the conversations of a JSON export")
    parser.add_argument("file", metavar="FILE", help="a JSON export, or - for standard input")
    parser.add_argument("--customer", help="refuse documents of any other customer")
    parser.set_defaults(command=run_import)


def run_import(args: argparse.Namespace) -> int:
    data = read_input(args.file)
    with open_manager(_store_of(args), must_exist=False) as manager:
        report = manager.import_conversations(data, customer_id=args.customer)
    print(
        f"created {len(report.created)}, merged {len(report.merged)}, "
        f"unchanged {len(report.unchanged)}"
    )
    return EXIT_OK


def _add_stats(commands: Subparsers) -> None:
    parser = commands.add_parser("stats", help="counts, averages and activity")
    parser.add_argument("--customer", help="one customer (default: every customer)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(command=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    with open_manager(_store_of(args)) as manager:
        stats = manager.get_stats(args.customer)
    print(stats.model_dump_json(indent=2) if args.json else format_stats(stats))
    return EXIT_OK


def _add_cleanup(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "cleanup", help="delete conversations not updated for N days, and expired ones"
    )
    parser.add_argument("--days", type=cleanup_days, required=True, metavar="N")
    parser.add_argument("--customer", help="one customer (default: every customer)")
    parser.set_defaults(command=run_cleanup)


def run_cleanup(args: argparse.Namespace) -> int:
    with open_manager(_store_of(args)) as manager:
        deleted = manager.cleanup_old_conversations(args.days, customer_id=args.customer)
    whose = "" if args.customer is None else f" of customer {args.customer!r}"
    print(f"deleted {deleted} conversation(s){whose}: idle for {args.days:g} days or expired")
    return EXIT_OK


def cleanup_days(text: str) -> float:
    """`--days`: a number of days from 0 to a century (fractions allowed). Checked here because
    a huge or infinite value would overflow the cut-off date instead of being refused."""
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not 0 <= days <= MAX_CLEANUP_DAYS:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number from 0 to {MAX_CLEANUP_DAYS}")
    return days


def _add_search(commands: Subparsers) -> None:
    parser = commands.add_parser("search", help="find a customer's messages by words")
    parser.add_argument("query", metavar="QUERY")
    parser.add_argument("--customer", required=True)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.set_defaults(command=run_search)


def run_search(args: argparse.Namespace) -> int:
    with open_manager(_store_of(args)) as manager:
        hits = manager.search_conversations(args.customer, args.query, args.limit)
    if args.json:
        print(json.dumps([hit.model_dump(mode="json") for hit in hits], indent=2))
    else:
        for hit in hits:
            print(format_hit(hit))
        _note(f"{len(hits)} message(s) found")
    return EXIT_OK


def _add_migrate(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "migrate", help="copy conversations between stores (idempotent, resumable)"
    )
    parser.add_argument("--from", dest="source", required=True, metavar="URL")
    parser.add_argument("--to", dest="target", required=True, metavar="URL")
    parser.add_argument("--customer", help="one customer (default: every customer)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(command=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    """Exit 1 when any conversation failed or the run stopped early: re-running resumes."""
    if args.store is not None:
        raise InvalidInputError("migrate takes --from and --to, not --store")
    source_settings = store_settings(args.source, os.environ)
    target_settings = store_settings(args.target, os.environ)
    if same_store(source_settings, target_settings):
        raise InvalidInputError("--from and --to name the same store")
    show_bar = not args.no_progress and sys.stderr.isatty()
    with (
        closing(open_existing_store(source_settings)) as source,
        open_manager(target_settings, must_exist=False) as target,
        progress_bar(show_bar) as bar,
    ):
        report = transfer(
            source,
            target,
            customer_id=args.customer,
            on_start=lambda total: bar.reset(total=total),
            on_progress=lambda outcome: _advance(bar, outcome),
        )
    print_transfer_report(report, args.source, args.target)
    return EXIT_OK if report.succeeded else EXIT_FAILED


def _add_delete_customer(commands: Subparsers) -> None:
    parser = commands.add_parser("delete-customer", help="delete every conversation of a customer")
    parser.add_argument("--customer", required=True)
    parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    parser.set_defaults(command=run_delete_customer)


def run_delete_customer(args: argparse.Namespace) -> int:
    if not args.yes:
        raise InvalidInputError(
            f"this deletes every conversation of customer {args.customer!r}; add --yes to confirm"
        )
    with open_manager(_store_of(args)) as manager:
        deleted = manager.delete_customer_data(args.customer)
    print(f"deleted {deleted} conversation(s) of customer {args.customer!r}")
    return EXIT_OK


# -- stores ---------------------------------------------------------------------------------


def store_settings(url: str | None, environ: Mapping[str, str]) -> Settings:
    """The settings a `--store`/`--from`/`--to` URL names, on top of the environment's; the
    Cosmos store is never wrapped in the outbox (`outbox_path=None`).

    Raises InvalidInputError (an unknown URL, or `cosmos` without COSMOSDB_ENDPOINT).
    """
    settings = Settings.from_env(environ)
    if url == "cosmos":
        if settings.cosmos_endpoint is None:
            raise InvalidInputError("the store 'cosmos' needs COSMOSDB_ENDPOINT in the environment")
    elif url is not None:
        if not url.startswith("sqlite:///"):
            raise InvalidInputError(f"a store is 'cosmos' or sqlite:///path, not {url!r}")
        settings = replace(settings, store_url=url, cosmos_endpoint=None)
    return replace(settings, outbox_path=None)


def _store_of(args: argparse.Namespace) -> Settings:
    return store_settings(args.store, os.environ)


def same_store(a: Settings, b: Settings) -> bool:
    if a.backend == b.backend == "cosmos":
        return (a.cosmos_endpoint, a.cosmos_database, a.cosmos_container) == (
            b.cosmos_endpoint,
            b.cosmos_database,
            b.cosmos_container,
        )
    if a.backend == b.backend == "sqlite":
        return sqlite_path(a.store_url).resolve() == sqlite_path(b.store_url).resolve()
    return False


def open_existing_store(settings: Settings, *, must_exist: bool = True) -> ConversationStore:
    """Open the store; with `must_exist`, a missing SQLite file is an error rather than a new
    empty store, so a mistyped path is reported instead of showing zero conversations.

    Raises InvalidInputError.
    """
    if settings.backend == "sqlite" and must_exist:
        path = sqlite_path(settings.store_url)
        if not path.is_file():
            raise InvalidInputError(f"no SQLite store at {path}")
    if settings.backend == "cosmos" and not settings.cosmos_verify_tls:
        # The operator chose an emulator with a self-signed certificate; one warning per
        # request would bury the output.
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    return open_store(settings)


@contextmanager
def open_manager(settings: Settings, *, must_exist: bool = True) -> Iterator[ConversationManager]:
    store = open_existing_store(settings, must_exist=must_exist)
    with ConversationManager(store, owns_store=True) as manager:
        yield manager


def read_input(name: str) -> bytes:
    """The bytes of FILE or of standard input (`-`), reading at most one byte more than an
    import may hold so an oversized input is refused without reading all of it.

    Raises InvalidInputError.
    """
    if name == "-":
        return sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    try:
        with open(name, "rb") as stream:
            return stream.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {name}: {exc.strerror}") from exc


# -- output ---------------------------------------------------------------------------------


def format_stats(stats: Stats) -> str:
    """A readable table: totals, averages, the longest conversation, the most active customers
    (all customers only) and the most recent days of messages as bars."""
    longest = (
        f"{stats.longest_conversation_id} ({stats.longest_conversation_messages:,} messages)"
        if stats.longest_conversation_id
        else "-"
    )
    rows = [
        ("Customer", stats.customer_id or "all"),
        ("Conversations", f"{stats.conversations:,}"),
        ("Messages", f"{stats.messages:,}"),
        ("Tokens", f"{stats.tokens:,}"),
        ("Messages per conversation", f"{stats.average_messages:,.2f}"),
        ("Tokens per conversation", f"{stats.average_tokens:,.2f}"),
        ("Longest conversation", longest),
    ]
    lines = [f"{label:<27}{value}" for label, value in rows]
    if stats.customer_id is None and stats.most_active_customers:
        lines += [
            "",
            "Most active customers",
            f"  {'customer':<30}{'conversations':>14}{'messages':>12}",
        ]
        lines += [
            f"  {c.customer_id:<30}{c.conversations:>14,}{c.messages:>12,}"
            for c in stats.most_active_customers
        ]
    lines += _day_lines(stats.messages_per_day)
    return "\n".join(lines)


def _day_lines(per_day: Mapping[str, int]) -> list[str]:
    if not per_day:
        return []
    days = list(per_day.items())[-DAYS_SHOWN:]
    peak = max(count for _, count in days)
    lines = ["", "Messages per day"]
    lines += [
        f"  {day}  {count:>8,}  {'#' * max(1, round(BAR_WIDTH * count / peak))}"
        for day, count in days
    ]
    if len(per_day) > len(days):
        lines.append(f"  ({len(per_day) - len(days)} earlier days: see --json)")
    return lines


def format_hit(hit: SearchHit) -> str:
    title = f" [{hit.conversation_title}]" if hit.conversation_title else ""
    when = hit.model_dump(mode="json")["timestamp"]
    return f"{when}  {hit.conversation_id}{title}  {hit.role}: {hit.snippet}"


@contextmanager
def progress_bar(shown: bool) -> Iterator[tqdm[NoReturn]]:
    bar: tqdm[NoReturn] = tqdm(
        total=0, desc="migrating", unit="conv", file=sys.stderr, disable=not shown
    )
    try:
        yield bar
    finally:
        bar.close()


def _advance(bar: tqdm[NoReturn], outcome: Outcome) -> None:
    bar.update(1)
    if outcome == "failed":
        bar.set_postfix_str("some failed", refresh=False)


def print_transfer_report(report: TransferReport, source: str, target: str) -> None:
    for failure in report.failures:
        _note(f"failed: {failure.customer_id}/{failure.conversation_id}: {failure.error}")
    if report.stopped_by is not None:
        _note(f"stopped early: {report.stopped_by}; run the same command again to resume")
    print(f"migrate {source} -> {target}: {report.summary()}")


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _fail(error: BaseException, code: int) -> int:
    _note(f"error: {error}")
    return code


if __name__ == "__main__":
    sys.exit(main())
