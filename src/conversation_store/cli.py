"""The operator CLI: `conversation-store [--store URL] COMMAND ...` (see docs/cli.md).

Commands: export, import, stats, cleanup, search, migrate, delete-customer, and `outbox list |
show | requeue | drop` over the local outbox file. The store is a URL the settings open
(`--store sqlite:///path`, `memory://`, ...), `--store cosmos` (the COSMOSDB_* settings), or
what the environment names (`Settings.from_env`). Cosmos DB is used directly, never through
the offline outbox: an operator wants a failure reported, not a write queued on their laptop.

Commands that delete across customers (`cleanup` without `--customer`, `delete-customer`,
`outbox drop`) print what they would delete and go on only with `--yes`; `--dry-run` on every
deleting command prints the same and deletes nothing.

Exit codes: 0 done; 1 a store error, or some conversations failed to migrate; 2 invalid input
(including bad arguments, and a deletion without `--yes`); 3 not found (a conversation, or a
customer without conversations); 130 interrupted; 141 the reader of standard output left
(`| head`), as for a process ended by SIGPIPE.
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
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from pydantic import ValidationError
from tqdm import tqdm

from conversation_store.exceptions import (
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
)
from conversation_store.export import render_export
from conversation_store.manager import ConversationManager
from conversation_store.models import SearchHit, Stats, format_timestamp
from conversation_store.operations import (
    DeletionPlan,
)
from conversation_store.settings import Settings, open_store, sqlite_path
from conversation_store.stores.outbox.queue import OutboxQueue, ParkedWrite
from conversation_store.stores.protocol import ConversationStore
from conversation_store.transfer import Outcome, TransferReport, transfer
from conversation_store.validation import (
    MAX_IMPORT_BYTES,
    optional_customer,
    validate_days,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left

MAX_CLEANUP_DAYS = 36_500  # a century: beyond it the cut-off date leaves datetime's range
DAYS_SHOWN = 14  # the stats table shows the most recent days; --json has them all
BAR_WIDTH = 30
CUSTOMER_WIDTH = 30  # the customer column of the stats table; longer ids end with an ellipsis
IDS_SHOWN = 20  # a deletion plan lists this many conversations, then "and N more"
REFUSAL = "refusing to delete without --yes (see --dry-run)"

Command = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class CommandError(Exception):
    """An outcome the CLI reports with its own exit code rather than a library error's."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; expected errors never show a traceback."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or the help
        return exc.code if isinstance(exc.code, int) else EXIT_INVALID
    command: Command = args.command
    try:
        code = command(args)
        sys.stdout.flush()  # inside the try: a reader that left shows here, not at exit
        return code
    except BrokenPipeError:
        return _reader_left()
    except CommandError as exc:
        return _fail(exc, exc.code)
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
        "3 not found (a conversation, or a customer without conversations), 130 interrupted, "
        "141 the reader of standard output left.",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="a store URL (sqlite:///path, memory://, ...) or cosmos (the COSMOSDB_* "
        "settings); default: from the environment",
    )
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    _add_export(commands)
    _add_import(commands)
    _add_stats(commands)
    _add_cleanup(commands)
    _add_search(commands)
    _add_migrate(commands)
    _add_delete_customer(commands)
    _add_outbox(commands)
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
    output = None if args.output is None else writable_file(args.output)
    with open_manager(_store_of(args)) as manager:
        if args.conversation is None:
            conversations = list(manager.iter_customer_conversations(args.customer))
        else:
            conversations = [manager.load_conversation(args.conversation, args.customer)]
        if not conversations:
            raise no_conversations(args.customer)
        text = render_export(conversations, args.format)
    data = text.encode("utf-8")  # the export format is UTF-8 whatever the console uses
    if output is None:
        write_stdout(data)
    else:
        write_file(output, data)
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
    if args.customer is not None and stats.conversations == 0:
        raise no_conversations(args.customer)
    print(stats.model_dump_json(indent=2) if args.json else format_stats(stats))
    return EXIT_OK


def _add_cleanup(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "cleanup", help="delete conversations not updated for N days, and expired ones"
    )
    parser.add_argument("--days", type=cleanup_days, required=True, metavar="N")
    parser.add_argument(
        "--customer", help="one customer (default: every customer, which needs --yes)"
    )
    _add_confirmation(parser, "needed without --customer")
    parser.set_defaults(command=run_cleanup)


def run_cleanup(args: argparse.Namespace) -> int:
    """Every customer's conversations only with `--yes`; one customer's without asking. The
    deletion plans again, so a conversation updated since the plan was printed is kept."""
    days = validate_days(args.days)
    customer = optional_customer(args.customer)
    with open_manager(_store_of(args)) as manager:
        if customer is None or args.dry_run:
            plan = manager.plan_cleanup(days, customer_id=customer)
            if not confirmed(args, format_plan(plan), asks=customer is None):
                return EXIT_OK
        deleted = manager.cleanup_old_conversations(days, customer_id=customer)
    whose = "" if customer is None else f" of customer {customer!r}"
    print(f"deleted {deleted} conversation(s){whose}: idle for {days:g} days or expired")
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
        if not hits and not has_conversations(manager, args.customer):
            raise no_conversations(args.customer)
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
    _add_confirmation(parser, "this cannot be undone")
    parser.set_defaults(command=run_delete_customer)


def run_delete_customer(args: argparse.Namespace) -> int:
    """A customer without conversations has nothing to delete: said, and exit 0, so a
    re-run of a finished deletion succeeds."""
    customer = optional_customer(args.customer)
    assert customer is not None  # --customer is required
    with open_manager(_store_of(args)) as manager:
        plan = manager.plan_customer_deletion(customer)
        if not plan.conversations:
            _note(f"no conversations for customer {customer!r}: nothing to delete")
            return EXIT_OK
        if not confirmed(args, format_plan(plan), asks=True):
            return EXIT_OK
        deleted = manager.delete_customer_data(customer)
    print(f"deleted {deleted} conversation(s) of customer {customer!r}")
    return EXIT_OK


def _add_confirmation(parser: argparse.ArgumentParser, why: str) -> None:
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help=f"delete without asking ({why})")
    choice.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted; delete nothing"
    )


def confirmed(args: argparse.Namespace, plan: str, *, asks: bool) -> bool:
    """Print the plan when the command asks first or is a dry run; True when the deletion
    may go on. Raises CommandError (exit 2) when it asks and `--yes` was not given."""
    if asks or args.dry_run:
        print(plan)
    if args.dry_run:
        print("dry run: nothing deleted")
        return False
    if asks and not args.yes:
        raise CommandError(REFUSAL, EXIT_INVALID)
    return True


# -- the outbox -----------------------------------------------------------------------------


def _add_outbox(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "outbox", help="writes the local outbox parked (refused for good by the store)"
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--outbox",
        metavar="PATH",
        help="the outbox file (default: CONVERSATION_STORE_OUTBOX, else data/outbox.db)",
    )
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[where], help="the parked writes, oldest first")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(command=run_outbox_list)
    show = actions.add_parser("show", parents=[where], help="one parked write, payload included")
    show.add_argument("seq", type=int, metavar="SEQ")
    show.set_defaults(command=run_outbox_show)
    requeue = actions.add_parser(
        "requeue", parents=[where], help="queue a parked write again, in its original place"
    )
    requeue.add_argument("seq", type=int, metavar="SEQ")
    requeue.set_defaults(command=run_outbox_requeue)
    drop = actions.add_parser("drop", parents=[where], help="delete a parked write for good")
    drop.add_argument("seq", type=int, metavar="SEQ")
    _add_confirmation(drop, "the write is lost")
    drop.set_defaults(command=run_outbox_drop)


def run_outbox_list(args: argparse.Namespace) -> int:
    with open_outbox(args.outbox) as queue:
        parked = queue.parked()
    if args.json:
        print(json.dumps([parked_fields(write) for write in parked], indent=2))
    else:
        print(format_parked(parked))
    _note(f"{len(parked)} parked write(s)")
    return EXIT_OK


def run_outbox_show(args: argparse.Namespace) -> int:
    with open_outbox(args.outbox) as queue:
        write = queue.parked_write(args.seq)
    shown = {**parked_fields(write), "payload": write.payload}
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return EXIT_OK


def run_outbox_requeue(args: argparse.Namespace) -> int:
    with open_outbox(args.outbox) as queue:
        write = queue.parked_write(args.seq)
        queue.requeue(write.seq)
    print(f"requeued {describe_parked(write)}: replayed when the store is reachable")
    return EXIT_OK


def run_outbox_drop(args: argparse.Namespace) -> int:
    with open_outbox(args.outbox) as queue:
        write = queue.parked_write(args.seq)
        if not confirmed(args, f"to drop: {describe_parked(write)}", asks=True):
            return EXIT_OK
        queue.drop(write.seq)
    print(f"dropped {describe_parked(write)}")
    return EXIT_OK


def outbox_path(option: str | None, environ: Mapping[str, str]) -> Path:
    """The outbox file `--outbox` or the settings name; it must exist, so a mistyped path is
    an error rather than a new empty outbox. Raises InvalidInputError."""
    name = option or Settings.from_env(environ).outbox_path
    if name is None:
        raise InvalidInputError("the outbox is off (CONVERSATION_STORE_OUTBOX); use --outbox PATH")
    path = Path(name)
    if not path.is_file():
        raise InvalidInputError(f"no outbox at {path}")
    return path


@contextmanager
def open_outbox(option: str | None) -> Iterator[OutboxQueue]:
    with closing(OutboxQueue(outbox_path(option, os.environ))) as queue:
        yield queue


# -- stores ---------------------------------------------------------------------------------


def store_settings(url: str | None, environ: Mapping[str, str]) -> Settings:
    """The settings a `--store`/`--from`/`--to` URL names, on top of the environment's: `cosmos`
    is the COSMOSDB_* settings, any other value a store URL for the settings to open (which
    refuse one they cannot). The Cosmos store is never wrapped in the outbox.

    Raises InvalidInputError (`cosmos` without COSMOSDB_ENDPOINT).
    """
    settings = Settings.from_env(environ)
    if url == "cosmos":
        if settings.cosmos_endpoint is None:
            raise InvalidInputError("the store 'cosmos' needs COSMOSDB_ENDPOINT in the environment")
    elif url is not None:
        settings = settings.model_copy(update={"store_url": url, "cosmos_endpoint": None})
    return settings.model_copy(update={"outbox_path": None})


def _store_of(args: argparse.Namespace) -> Settings:
    return store_settings(args.store, os.environ)


def same_store(a: Settings, b: Settings) -> bool:
    identity = store_identity(a)
    return identity is not None and a.backend == b.backend and identity == store_identity(b)


def store_identity(settings: Settings) -> object:
    """What tells two stores of one backend apart; None for `memory://`, which is a new
    store every time it is opened."""
    if settings.backend == "cosmos":
        return (settings.cosmos_endpoint, settings.cosmos_database, settings.cosmos_container)
    if settings.backend == "sqlite":
        return sqlite_path(settings.store_url).resolve()
    if settings.backend == "memory":
        return None
    return settings.store_url


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


def writable_file(name: str) -> Path:
    """`--output FILE`, checked before any work: its folder must exist. Raises
    InvalidInputError."""
    path = Path(name)
    if not path.parent.is_dir():
        raise InvalidInputError(f"cannot write {name}: no folder {path.parent}")
    return path


def write_stdout(data: bytes) -> None:
    """All of `data`: a buffered write can stop short when the reader leaves (`| head`) and
    report it only on the next write, which raises BrokenPipeError."""
    rest = memoryview(data)
    while rest:
        rest = rest[sys.stdout.buffer.write(rest) :]
    sys.stdout.buffer.flush()


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror}") from exc


def has_conversations(manager: ConversationManager, customer_id: str) -> bool:
    """One listing of a single summary, archived ones included."""
    return bool(manager.get_recent_conversations(customer_id, 1, archived=None).items)


def no_conversations(customer_id: str) -> CommandError:
    return CommandError(f"no conversations for customer {customer_id!r}", EXIT_NOT_FOUND)


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
            f"  {shorten(c.customer_id, CUSTOMER_WIDTH - 1):<{CUSTOMER_WIDTH}}"
            f"{c.conversations:>14,}{c.messages:>12,}"
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


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def format_plan(plan: DeletionPlan) -> str:
    """The conversations a deletion would remove: a count, the customers, then the first
    `IDS_SHOWN` as `customer/conversation` and how many more."""
    customers = plan.customers
    names = ", ".join(repr(c) for c in customers[:IDS_SHOWN])
    if len(customers) > IDS_SHOWN:
        names += f" and {len(customers) - IDS_SHOWN} more"
    lines = [
        f"to delete: {len(plan.conversations)} conversation(s) of {len(customers)} "
        f"customer(s){': ' + names if names else ''}"
    ]
    lines += [
        f"  {key.customer_id}/{key.conversation_id}" for key in plan.conversations[:IDS_SHOWN]
    ]
    if len(plan.conversations) > IDS_SHOWN:
        lines.append(f"  and {len(plan.conversations) - IDS_SHOWN} more")
    return "\n".join(lines)


def parked_fields(write: ParkedWrite) -> dict[str, object]:
    """A parked write without its payload, as `outbox list --json` prints it."""
    return {
        "seq": write.seq,
        "customer_id": write.customer_id,
        "conversation_id": write.conversation_id,
        "operation": write.operation,
        "error": write.error,
        "queued_at": format_timestamp(write.queued_at),
        "parked_at": format_timestamp(write.parked_at),
    }


def format_parked(parked: Sequence[ParkedWrite]) -> str:
    """One line per parked write; long ids end with an ellipsis (`--json` keeps them)."""
    header = f"{'seq':>6}  {'parked_at':<27}  {'customer':<24}  {'conversation':<24}  "
    lines = [header + f"{'operation':<15}  error"]
    lines += [
        f"{w.seq:>6}  {format_timestamp(w.parked_at):<27}  {shorten(w.customer_id, 24):<24}  "
        f"{shorten(w.conversation_id, 24):<24}  {w.operation:<15}  {w.error}"
        for w in parked
    ]
    return "\n".join(lines)


def describe_parked(write: ParkedWrite) -> str:
    return (
        f"parked write {write.seq} ({write.operation} of conversation {write.conversation_id!r}"
        f" of customer {write.customer_id!r})"
    )


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
    _note(f"error: {error_line(error)}")
    return code


def error_line(error: BaseException) -> str:
    """The error's message on one line: a pydantic report inside it becomes `field: problem`
    pairs, without pydantic's links, and any other line break a space."""
    message = str(error)
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        message = message.replace(str(cause), describe_validation(cause))
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def describe_validation(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"]) or "value"
        given = detail.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        problems.append(f"{field}: {detail['msg']}{shown}")
    return "; ".join(problems)


def _reader_left() -> int:
    """The reader of standard output is gone (`| head`): stop quietly, the way Python's docs
    advise for SIGPIPE. Standard output is pointed at /dev/null so the interpreter's last
    flush cannot fail again and print `Broken pipe`."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
