"""Render `docs/benchmarks.md` and its plots from one results file (no measuring here).

    python -m bench.render [bench/results/<date>.json]     # default: the newest results file
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import sqlite_floor

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
R = dict[str, Any]

OURS, NAIVE, SQLITE = "#1f77b4", "#d62728", "#2ca02c"
BYTES_RATIO_TARGET = 1.2


# -- formatting ---------------------------------------------------------------------------------


def kib(n: float) -> str:
    """Bytes for a table: exact below 10 KiB, else KiB or MiB."""
    if n < 10 * 1024:
        return f"{n:,.0f} B"
    if n < 10 * 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / 1024 / 1024:,.1f} MiB"


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def spread(summary: R) -> str:
    """Median (min-max) of a time summary."""
    return f"{ms(summary['median'])} ({ms(summary['min'])}-{ms(summary['max'])})"


def count(n: float) -> str:
    return f"{n:,.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ not met"


# -- derived figures ----------------------------------------------------------------------------


def growth_events(cosmos: R) -> list[R]:
    return [e for series in cosmos["growth"]["series"] for e in series["events"]]


def growth_totals(cosmos: R) -> R:
    totals: R = {"appends": 0, "requests": 0, "request_body_bytes": 0, "response_body_bytes": 0}
    for series in cosmos["growth"]["series"]:
        for key in totals:
            totals[key] += series["totals"][key]
    return totals


def largest_head_read(cosmos: R) -> int:
    """The largest head read during a seal: the head at its fullest."""
    return max(
        (
            x["response_body_bytes"]
            for e in growth_events(cosmos)
            for x in e.get("exchanges", [])
            if x["method"] == "GET"
        ),
        default=0,
    )


def naive_window(cosmos: R, position: str) -> R:
    window: R = cosmos["naive"]["windows"][position]
    return window


def median_of(records: Sequence[R], key: str) -> float:
    values = sorted(float(r[key]) for r in records)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def targets(results: R) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) — None means partly met."""
    cosmos = results["cosmos"]
    growth = cosmos["growth"]
    windows = growth["windows"]
    positions = list(windows)
    first, thousand = positions[0], "1000" if "1000" in windows else positions[-1]
    totals = growth_totals(cosmos)
    events = growth_events(cosmos)
    steady = totals["appends"] - len(events)
    one_request = all(w["requests"]["median"] == 1 for w in windows.values())
    requests_row = (
        f"median 1 request at every position; {count(steady)} of {count(totals['appends'])} "
        f"appends ({100 * steady / totals['appends']:.1f} %) took exactly 1. The other "
        f"{len(events)} hit the head bound (by the store's estimate) and took "
        f"{describe_event_requests(events)}: "
        f"{totals['requests'] / totals['appends']:.3f} requests per append overall"
    )
    b1 = windows[first]["request_body_bytes"]["median"]
    b1000 = windows[thousand]["request_body_bytes"]["median"]
    last = positions[-1]
    b_last = windows[last]["request_body_bytes"]["median"]
    bytes_row = (
        f"median request body {kib(b1)} at message {count(int(first))}, {kib(b1000)} at "
        f"{count(int(thousand))} (x{b1000 / b1:.2f}), {kib(b_last)} at {count(int(last))} "
        f"(x{b_last / b1:.2f})"
    )
    bound = cosmos["limits"]["item_bytes"]
    items = growth["items"]
    max_head = max(max(i["max_head_bytes"] for i in items), largest_head_read(cosmos))
    max_segment = max(i["max_segment_bytes"] for i in items)
    head_row = (
        f"largest head seen {kib(max_head)} (while sealing, and in the final read of every "
        f"item); largest segment {kib(max_segment)}; bound `SizeLimits().item_bytes` = "
        f"{kib(bound)}"
    )
    loads = growth["loads"]
    window_requests = {n: load["window"]["requests"]["max"] for n, load in loads.items()}
    window_row = ", ".join(
        f"{count(int(n))} messages: {count(r)} request" for n, r in window_requests.items()
    )
    listing = cosmos["list"]
    clean = not listing["response_has_messages_key"] and listing["message_texts_in_response"] == 0
    list_row = (
        f"{count(listing['ours']['requests']['max'])} request, "
        f"{kib(listing['ours']['response_body_bytes']['median'])} for {listing['returned']} "
        f"summaries; no `messages` field and {listing['message_texts_in_response']} of the "
        f"{count(listing['conversations'] * listing['messages_per_conversation'])} stored message "
        "texts in the responses"
    )
    return [
        ("1 request per append", requests_row, True if not events and one_request else None),
        (
            f"request bytes at message 1,000 within {BYTES_RATIO_TARGET}x of message 1",
            bytes_row,
            b1000 <= BYTES_RATIO_TARGET * b1,
        ),
        ("head item never above its configured bound", head_row, max_head <= bound),
        (
            "recent window in 1 request whatever the length",
            window_row,
            all(n == 1 for n in window_requests.values()),
        ),
        ("list requests carry no message bodies", list_row, clean),
    ]


def describe_event_requests(events: Sequence[R]) -> str:
    counts = sorted({int(e["requests"]) for e in events})
    return " or ".join(str(c) for c in counts) + " requests" if counts else "no extra requests"


# -- sections -----------------------------------------------------------------------------------


def header(results: R, source: Path, doc: Path) -> str:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    name = display(source)
    link = Path(os.path.relpath(source, doc.parent)).as_posix()
    return f"""# Benchmarks

The claim under test: storing a message costs the same whatever the length of the
conversation (O(1) per message). Requests and bytes are counted at the HTTP transport, times
are repeated. Generated by `make bench` from [`{name}`]({link}); do not edit by hand
(`python -m bench.render <results.json>` rewrites this page and its plots).

- **When / where:** {m['date']}, {m['cores']} cores, {m['platform']}, Python {m['python']},
  Node {m['node']}, `@vercel/cosmosdb-server` {m['cosmosdb_server']} behind
  `tools/cosmos-server/launch.js`, commit `{m['commit']}`.
- **Packages:** {packages}.
- **Scale:** `{results['scale']['name']}` (`BENCH_SCALE`); the whole run took
  {results['seconds']:.0f} s.
- **Cosmos DB here means the local Cosmos-compatible server** (in memory, on 127.0.0.1, same
  machine). Request and byte counts are what the SDK sends and receives, so they carry over to
  real Cosmos DB; times do not (no network, no replication, a JavaScript query engine). The
  local server charges **1 RU for every request**, so no RU figures are published.
"""


def targets_section(results: R) -> str:
    rows = []
    for target, measured, met in targets(results):
        status = "⚠️ partly: not at seals" if met is None else mark(met)
        rows.append((target, measured, status))
    return "## Targets\n\n" + table(("Target", "Measured", "Status"), rows) + "\n"


def append_section(results: R) -> str:
    cosmos, sqlite = results["cosmos"], results["sqlite"]
    windows = cosmos["growth"]["windows"]
    rows = []
    for position, w in windows.items():
        naive = naive_window(cosmos, position)
        naive_ok = [a for a in naive["appends"] if a["statuses"] == [200]]
        naive_bytes = median_of(naive["appends"], "request_body_bytes")
        ours_bytes = w["request_body_bytes"]["median"]
        if naive_ok:
            naive_time = spread(summary_of([a["ms"] for a in naive["appends"]]))
            naive_cell = kib(naive_bytes)
        else:
            statuses = sorted({s for a in naive["appends"] for s in a["statuses"]})
            naive_time = "—"
            naive_cell = f"{kib(naive_bytes)}: **fails** ({', '.join(map(str, statuses))})"
        requests = w["requests"]
        rows.append((
            count(int(position)),
            f"{requests['median']:.0f}" + ("" if requests["max"] == 1 else
                                           f" (max {requests['max']:.0f})"),
            kib(ours_bytes),
            kib(w["response_body_bytes"]["median"]),
            spread(w["ms"]),
            naive_cell,
            naive_time,
            f"{naive_bytes / ours_bytes:,.1f}x" + ("" if naive_ok else " (rejected)"),
            spread(sqlite["growth"]["windows"][position]["ms"]),
        ))
    runs = cosmos["growth"]["runs"]
    reps = f"{results['scale']['repetitions']}" + (
        f" (x {runs} conversations, pooled)" if runs > 1 else ""
    )
    limit = cosmos["naive"]["first_message_over_item_limit"]
    return f"""## 1-2. Append cost as one conversation grows

Ours: the {reps} consecutive appends starting at that message number (median; times as
median (min-max) in ms). "Naive" is the seed system's write — the whole document upserted on
every append (`bench/naive.py`) — measured by appending message N to the same N-1 messages
{results['scale']['repetitions']} times. Bytes are HTTP bodies; every request also carries about
{kib(windows[next(iter(windows))]['request_header_bytes']['median'])} of request line and
headers (not counted in the ratio).

{table(("Message", "Requests", "Request body", "Response body", "Time, ms",
        "Naive request body", "Naive time, ms", "Naive ÷ ours (bytes)", "SQLite time, ms"), rows)}

The naive document outgrows Cosmos DB's 2 MB item limit at message **{count(limit)}** with these
messages: from there on every naive append is rejected (413), so it cannot hold 10,000 messages
at all. Its response body is the whole document again (the SDK's default for `upsert_item`); our
appends ask for `Prefer: return=minimal`, which the local server honours (empty body, as real
Cosmos DB does).

{time_note(cosmos)}

![Append cost vs conversation length](img/bench-append.png)
"""


def time_note(cosmos: R) -> str:
    blocks = cosmos["growth"]["series"][0]["blocks"]
    first = blocks[0]["ms"]["median"]
    later = [b["ms"]["median"] for b in blocks if b["first"] > 1000]
    if not later:
        return ""
    settled = sorted(later)[len(later) // 2]
    return (
        f"On the local server an append takes ~{ms(first)} ms while the head is small and "
        f"~{ms(settled)} ms (median of the 100-append blocks after message 1,000) once it holds "
        "a few hundred messages, then stays there to the end: the server's patch work grows "
        "with the size of the head item, which the bound caps, not with the conversation "
        "(Cosmos DB's RU charge for a patch also grows with the item's size)."
    )


def summary_of(values: Sequence[float]) -> R:
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"median": median, "min": ordered[0], "max": ordered[-1]}


def seal_section(results: R) -> str:
    cosmos = results["cosmos"]
    totals = growth_totals(cosmos)
    events = growth_events(cosmos)
    steady = totals["appends"] - len(events)
    blocks = [b for s in cosmos["growth"]["series"] for b in s["blocks"]]
    steady_bytes = median_of([b["steady_request_body_bytes"] for b in blocks], "median")
    event_rows = []
    for e in events[:6]:
        parts = ", ".join(
            f"{x['method']} {x['status']} ↑{kib(x['request_body_bytes'])} "
            f"↓{kib(x['response_body_bytes'])}"
            for x in e.get("exchanges", [])
        )
        event_rows.append((count(e["message"]), str(e["requests"]), parts, ms(e["ms"])))
    messages = cosmos["growth"]["messages"]
    segments = sum(i["segments"] for i in cosmos["growth"]["items"])
    amortized = totals["request_body_bytes"] / totals["appends"]
    seal_bytes = totals["request_body_bytes"] - steady * steady_bytes
    return f"""## The whole run, append by append

All {count(totals['appends'])} appends of the growth run(s) ({count(messages)} messages each),
in blocks of {cosmos['growth']['series'][0]['block']}: {count(steady)} took one request (a
conditional patch, median body {kib(steady_bytes)}). For the other {len(events)} the patch's
condition said the head was full (412); the store then read the head and wrote it back in one
transactional batch, sealing the oldest messages into segments if it really was over the
bound. Overall:
**{totals['requests'] / totals['appends']:.3f} requests and {kib(amortized)} of request body per
append** (responses: {kib(totals['response_body_bytes'] / totals['appends'])} per append, all of
it from seals). Seals carry about {100 * seal_bytes / totals['request_body_bytes']:.0f} % of all
request bytes. The first of them:

{table(("Message", "Requests", "Exchanges (↑ request body, ↓ response body)", "ms"),
       event_rows)}

{rewrite_note(len(events), segments)}

![Every append of the growth run](img/bench-growth.png)
"""


def rewrite_note(events: int, segments: int) -> str:
    """Why there are more read-and-rewrite appends than segments, if there are."""
    if events <= segments:
        return f"Each of the {events} appends sealed at least one segment ({segments} in all)."
    return (
        f"Only {segments} segment(s) exist at the end, yet {events} appends took the read-and-"
        f"rewrite path: {events - segments} of them rewrote the whole head *without* sealing. "
        "`head_bytes` is an upper bound (every append adds 16 bytes of slack), so the patch "
        "fails before the head is really full; measured exactly, it still fits, and the store "
        "writes it back as is — until a later append really crosses the bound. Each such "
        "rewrite sends and receives the whole head (~the bound). The cost stays bounded (it "
        "does not grow with the conversation), but this is where most write bytes go."
    )


def load_section(results: R) -> str:
    cosmos, sqlite = results["cosmos"], results["sqlite"]
    loads = cosmos["growth"]["loads"]
    window = results["scale"]["window_messages"]
    rows = []
    for length, load in loads.items():
        naive = cosmos["naive"]["loads"][length]
        for kind, label in (("window", f"recent {window}"), ("full", "full")):
            entry = load[kind]
            naive_cell = (
                f"{kib(naive['response_body_bytes']['median'])}, {spread(naive['ms'])} ms"
                if naive.get("stored") else f"cannot be stored ({naive.get('status')})"
            )
            rows.append((
                count(int(length)),
                label,
                f"{entry['requests']['max']:.0f}",
                kib(entry["response_body_bytes"]["median"]),
                spread(entry["ms"]),
                naive_cell,
                spread(sqlite["growth"]["loads"][length][kind]["ms"]),
            ))
    return f"""## 3. Load the recent window vs the full conversation

`get_history(..., max_messages={window})` reads the head item only (one point read, whatever
the length); `load_conversation` reads the head and queries its segments. The naive conversation
is one point read of the whole document in both cases.

{table(("Messages", "Load", "Requests", "Response body", "Time, ms", "Naive (one document)",
        "SQLite time, ms"), rows)}

The recent window costs the whole head item (up to the bound), not just {window} messages: a
point read returns the entire item. {paging_note(loads)} {model_note(results)}

![Loads](img/bench-loads.png)
"""


def model_note(results: R) -> str:
    models = results.get("models")
    if not models:
        return ""
    return (
        f"Of a full load, building the pydantic models of {count(models['messages'])} messages "
        f"alone takes {spread(models['validate_ms'])} ms (measured apart), in either backend."
    )


def paging_note(loads: R) -> str:
    """Real Cosmos DB pages query results at 4 MB; the local server sends one page."""
    biggest = max(load["full"]["response_body_bytes"]["median"] for load in loads.values())
    if biggest <= 4 * 1000 * 1000:
        return ""
    return (
        f"The local server returned all segments in one query page ({kib(biggest)} in all); real "
        "Cosmos DB caps a page at 4 MB, so there the full load of the longest conversation "
        "takes one more request."
    )


def list_section(results: R) -> str:
    listing = results["cosmos"]["list"]
    sqlite = results["sqlite"]["list"]
    rows = []
    for key, label in (("ours", "ours: summary fields, `ORDER BY updated_at DESC`"),
                       ("naive_select_star", "seed-style `SELECT TOP 20 *`")):
        entry = listing[key]
        rows.append((
            label,
            f"{entry['requests']['max']:.0f}",
            kib(entry["request_body_bytes"]["median"]),
            kib(entry["response_body_bytes"]["median"]),
            spread(entry["ms"]),
        ))
    rows.append(("SQLite (ours)", "—", "—", "—", spread(sqlite["ms"])))
    total = count(listing["conversations"])
    per = listing["messages_per_conversation"]
    return f"""## 4. List 20 recent conversations of a customer with {total}

The customer's {total} conversations ({per} messages each) were created with
`create_conversation` ({listing['seed_seconds']:.1f} s); then
`get_recent_conversations(customer, limit=20)`.

{table(("Listing", "Requests", "Request body", "Response body", "Time, ms"), rows)}

Checked on the response bytes: `"messages"` present: {listing['response_has_messages_key']};
stored message texts found: {listing['message_texts_in_response']}.
"""


def concurrency_section(results: R) -> str:
    rounds: list[R] = results["cosmos"]["concurrent"]
    n = results["cosmos"]["naive_concurrent"]
    c = rounds[0]
    appends = c["writers"] * c["appends_per_writer"]
    statuses: dict[str, int] = {}
    for r in rounds:
        for code, number in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + number
    status_text = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    rows = []
    for i, r in enumerate(rounds, start=1):
        latency = r["latency_ms"]
        rows.append((
            f"ours, round {i} (one shared `CosmosStore`)",
            f"{r['appends_per_second']:,.0f}",
            count(appends),
            count(r["acknowledged"]),
            count(r["error_count"]),
            count(r["stored_new_messages"]),
            "yes" if r["each_acknowledged_once"] else "**no**",
            f"{r['requests_per_append']:.2f}",
            f"{ms(latency['median'])} / {ms(latency['p90'])} / {ms(latency['max'])}",
        ))
    rows.append((
        "naive (each writer upserts its own copy)",
        f"{n['appends_per_second']:,.0f}",
        count(appends),
        count(n["acknowledged"]),
        "0",
        count(n["stored_new_messages"]),
        "**no**" if n["stored_new_messages"] < n["acknowledged"] else "yes",
        "1",
        "—",
    ))
    return f"""## 5. {c['writers']} concurrent writers on one conversation

{c['writers']} threads x {c['appends_per_writer']} appends = {appends} appends to one
conversation that already held {c['seed_messages']} messages (so the writers cross the head
bound and race on a seal), in {len(rounds)} round(s), each on a fresh conversation. Status codes
seen: {status_text} (412 = a patch refused because the head is full; 207 = a transactional
batch that lost an ETag race and was retried).

{table(("Writers", "Appends/s", "Attempted", "Acknowledged", "Failed", "Stored",
        "Each stored once", "Requests/append", "Latency ms median / p90 / max"), rows)}

{failures_note(rounds)}The naive writers lose {count(n["acknowledged"] - n["stored_new_messages"])}
of {count(n["acknowledged"])} acknowledged messages: each upsert replaces the others' work.
"""


def failures_note(rounds: Sequence[R]) -> str:
    failed = sum(r["error_count"] for r in rounds)
    if not failed:
        return "Every append succeeded and is stored exactly once. "
    kinds = sorted({e for r in rounds for e in r["errors"]})
    return (
        f"**{failed} appends failed** ({'; '.join(f'`{k}`' for k in kinds)}): near the head "
        "bound a writer whose patch was refused rewrites the head with an ETag, and the other "
        "writers' patches keep changing that ETag until its attempts run out. Nothing "
        "acknowledged was lost or duplicated. "
    )


def sqlite_section(results: R) -> str:
    s = results["sqlite"]
    g = s["growth"]
    t = s["threads"]
    last = max(g["loads"], key=int)
    return f"""## 6. SQLite, embedded

Same calls through `ConversationManager` on a `SQLiteStore` file (WAL, `synchronous=FULL`, the
default) in a temporary directory.

{table(("Measure", "Result"), [
    ("appends/s, 1 writer (the growth run)", f"{g['appends_per_second']:,.0f}"),
    (f"appends/s, {t['threads']} threads (own conversation each, one store)",
     f"{t['appends_per_second']:,.0f} ({count(t['stored'])} of {count(t['expected'])} stored, "
     f"{t['error_count']} errors)"),
    (f"load a {count(int(last))}-message conversation, ms",
     spread(g["loads"][last]["full"]["ms"])),
    (f"recent {results['scale']['window_messages']} of {count(int(last))}, ms",
     spread(g["loads"][last]["window"]["ms"])),
    (f"list 20 of {count(s['list']['conversations'])} conversations, ms",
     spread(s["list"]["ms"])),
    ("database file after the run", kib(s["file_bytes"])),
])}
"""


def floor_section(results: R) -> str:
    """Ours against the raw stdlib floors, from the same run (`bench/sqlite_floor.py`)."""
    floor = results.get("sqlite_floor")
    if floor is None:  # results written before the floors joined the run
        return ""
    decoding = results["cosmos_decoding"]
    load = results.get("load_average")
    load_note = (
        f" Load average when the run started: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
        f" on {results['machine']['cores']} shared cores."
        if load
        else ""
    )
    rounds = floor.get("rounds")
    rounds_note = (
        f", in {rounds} rounds that the subjects take turns at (appends/s is the median round)"
        if rounds
        else ""
    )
    return f"""## 7. SQLite against the speed of the disk

The floor is plain stdlib `sqlite3` (WAL) with one row per message and one transaction per
append, nothing else: no ids, no validation, no counters, no search. The schema floor is the
same stdlib `sqlite3` on our store's schema, running our store's statements for an append (the
row with its id and JSON body, the counters, the listing order), foreign keys checked as the
store checks them, and returning the bodies undecoded: what the disk costs with the features
kept, without our Python work (validation, models, JSON). Ours is `SQLiteStore` through
`ConversationManager`, whose appends from several threads share a commit (group commit; the
floors commit each append alone). Each runs on a fresh file: {count(floor['messages'])} appends of
{floor['length']}-character messages to one conversation,
one call at a time (the caller passes token counts){rounds_note}; loads of all
of them and of the last {floor['window']} (median of {sqlite_floor.LOAD_REPETITIONS} each);
then {floor['writers']} threads appending {count(floor['appends_per_writer'])} messages each
to their own conversations. Ratios are ours (and the schema floor) at FULL over the floor at
FULL.{load_note}

{sqlite_floor.ratio_table(floor)}

**Cosmos DB, building the models of a full load** (`bench/cosmos_decoding.py`, no server):
{count(decoding['messages'])} messages in a head and {decoding['segments']} segments as the SDK
returns them; `items.conversation_from_items` takes {spread(decoding['decode_ms'])} ms (target
20 ms), one `Conversation.model_validate` of the same document
{spread(decoding['model_validate_ms'])} ms.
"""


def method_section(results: R) -> str:
    scale = results["scale"]
    cosmos = results["cosmos"]
    probe = cosmos["server_probe"]
    return f"""## How it was measured

- **Counting.** `bench/transport.py` subclasses azure-core's `RequestsTransport`; every request
  that leaves the SDK pipeline (retries included) is counted under the label of the call under
  way: request body bytes, request line + header bytes, response body bytes. TLS and TCP
  framing are not counted. The store is `CosmosStore(container, limits=SizeLimits())` over a
  `CosmosClient` built with the store's own client options plus this transport.
- **Growth.** {cosmos['growth']['runs']} conversation(s) grown from message 1 to
  {count(cosmos['growth']['messages'])} **one `append_message` at a time** — nothing seeded in bulk.
  The repetitions at a position are the {scale['repetitions']} consecutive appends starting
  there; their texts are the same at every position, so byte differences between rows come from
  the store, not the text. Loads were measured when the conversation held exactly
  {' and '.join(count(n) for n in scale['load_at'])} messages ({scale['load_repetitions']}x each).
- **Messages.** Alternating user/assistant text of 200-400 characters (lengths in steps of 25,
  fixed seed), token counts set. Default `SizeLimits()`: items of at most
  {kib(cosmos['limits']['item_bytes'])}; a seal keeps {cosmos['limits']['head_after_seal']:.0%}
  of that in the head.
- **Naive baseline.** At each position a document of N-1 messages is stored by one upsert (not
  measured); then message N is appended {scale['repetitions']} times (one `upsert_item` of the
  whole document each, the kept copy reset to N-1 messages in between), with the same texts as
  our windows.
- **Why lengths come in steps.** The local server compiles every distinct filter predicate
  (~30 ms, 100 cached); our append's predicate contains `c.head_bytes <= <number>` where the
  number depends on the message size. With a new size on every append the median append takes
  {ms(probe['distinct_lengths']['median'])} ms on this server, with the usual 9 lengths
  {ms(probe['usual_lengths']['median'])} ms — that is the test server's compiler, not the store,
  and real Cosmos DB has no such cache. Requests and bytes are unaffected.
- **Concurrency.** Threads share one store (and one HTTP connection pool).
"""


def reproduce_section() -> str:
    return """## Reproduce

```bash
make bench                   # default scale: about 13 minutes on 2 cores (748 s on 2026-12-01)
BENCH_SCALE=full make bench  # 3 growth runs, more repetitions and writers
python -m bench.render bench/results/<file>.json   # re-render this page from saved results
```

`make bench` installs the `bench` extra (matplotlib) and the local server's npm packages if
needed, starts the server on a free port of 127.0.0.1, writes `bench/results/<date>.json`, and
renders this page and `docs/img/bench-*.png`.
"""


# -- plots --------------------------------------------------------------------------------------


def plot_append(results: R, path: Path) -> None:
    cosmos, sqlite = results["cosmos"], results["sqlite"]
    windows = cosmos["growth"]["windows"]
    x = [int(p) for p in windows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    ours_bytes = [w["request_body_bytes"]["median"] for w in windows.values()]
    naive_bytes = [median_of(naive_window(cosmos, p)["appends"], "request_body_bytes")
                   for p in windows]
    failed = [p for p in windows
              if any(a["statuses"] != [200] for a in naive_window(cosmos, p)["appends"])]
    left.plot(x, ours_bytes, "o-", color=OURS, label="ours: conditional patch")
    left.plot(x, naive_bytes, "s-", color=NAIVE, label="naive: whole-document upsert")
    for p in failed:
        left.plot([int(p)], [median_of(naive_window(cosmos, p)["appends"], "request_body_bytes")],
                  "x", color="black", markersize=12, markeredgewidth=2)
    left.axhline(2 * 1024 * 1024, color="gray", linestyle="--", linewidth=1)
    left.text(1.2, 2.3 * 1024 * 1024, "Cosmos DB item limit (2 MB); x = rejected (413)",
              fontsize=8, color="gray")
    style(left, "Request body per append", "bytes (log)", log_y=True)
    left.legend(fontsize=8, loc="center right")
    ours_ms = [w["ms"] for w in windows.values()]
    stored = [p for p in windows if p not in failed]
    naive_ms = [summary_of([a["ms"] for a in naive_window(cosmos, p)["appends"]])
                for p in stored]
    sqlite_ms = [sqlite["growth"]["windows"][p]["ms"] for p in windows]
    for xs, series, color, label, marker in (
        (x, ours_ms, OURS, "ours, local Cosmos server", "o-"),
        ([int(p) for p in stored], naive_ms, NAIVE,
         "naive, local Cosmos server (accepted appends)", "s-"),
        (x, sqlite_ms, SQLITE, "ours, SQLite", "^-"),
    ):
        medians = [s["median"] for s in series]
        errors = [[m - s["min"] for m, s in zip(medians, series, strict=True)],
                  [s["max"] - m for m, s in zip(medians, series, strict=True)]]
        right.errorbar(xs, medians, yerr=errors, fmt=marker, color=color, label=label, capsize=3)
    style(right, "Time per append (median, min-max)", "ms (log)", log_y=True)
    right.legend(fontsize=8)
    save(fig, path)


def plot_growth(results: R, path: Path) -> None:
    cosmos, sqlite = results["cosmos"], results["sqlite"]
    series = cosmos["growth"]["series"][0]
    blocks = series["blocks"]
    x = [b["last"] for b in blocks]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.4), sharex=True)
    top.plot(x, [b["ms"]["median"] for b in blocks], color=OURS,
             label="local Cosmos server: median of each 100 appends")
    top.fill_between(x, [b["ms"]["p10"] for b in blocks], [b["ms"]["p90"] for b in blocks],
                     color=OURS, alpha=0.2, label="p10-p90")
    sqlite_medians = sqlite["growth"]["block_median_ms"]
    block = sqlite["growth"]["block"]
    top.plot([min((i + 1) * block, sqlite["growth"]["messages"])
              for i in range(len(sqlite_medians))], sqlite_medians, color=SQLITE,
             label="SQLite: median of each 100 appends")
    plain_log(top)
    top.set_ylabel("ms per append (log)")
    top.set_title("Every append of one conversation, message 1 to "
                  f"{series['totals']['appends']:,}")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8, loc="center right")
    steady = [b["steady_request_body_bytes"]["median"] for b in blocks]
    per_append = [b["request_body_bytes"] / (b["last"] - b["first"] + 1) for b in blocks]
    bottom.plot(x, steady, color=OURS, label="single-request appends (median)")
    bottom.plot(x, per_append, color="#ff7f0e", alpha=0.8,
                label="all appends of the block, seals included (mean)")
    events = series["events"]
    bottom.scatter([e["message"] for e in events], [e["request_body_bytes"] for e in events],
                   color="black", marker="v", s=18, zorder=3,
                   label="read-and-rewrite append (3 requests)")
    plain_log(bottom)
    bottom.set_ylabel("request body bytes (log)")
    bottom.set_xlabel("message number")
    bottom.grid(True, which="both", alpha=0.3)
    bottom.legend(fontsize=8, loc="center right")
    save(fig, path)


def plot_loads(results: R, path: Path) -> None:
    cosmos, sqlite = results["cosmos"], results["sqlite"]
    loads = cosmos["growth"]["loads"]
    lengths = list(loads)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.2
    positions = range(len(lengths))
    bars = (
        ("window", "recent window (head only)", OURS, -1),
        ("full", "full conversation", "#9467bd", 1),
    )
    for kind, label, color, side in bars:
        left.bar([p + side * width / 2 for p in positions],
                 [loads[n][kind]["response_body_bytes"]["median"] / 1024 for n in lengths],
                 width, color=color, label=label)
        # Four bars per length: window (Cosmos, SQLite), then full (Cosmos, SQLite).
        cosmos_x = [p + (0.1 if side > 0 else -0.3) for p in positions]
        sqlite_x = [x + width for x in cosmos_x]
        right.bar(cosmos_x, [loads[n][kind]["ms"]["median"] for n in lengths], width,
                  color=color, label=f"{label}, local Cosmos")
        right.bar(sqlite_x,
                  [sqlite["growth"]["loads"][n][kind]["ms"]["median"] for n in lengths],
                  width, color=color, alpha=0.45, hatch="//", label=f"{label}, SQLite")
    for axis in (left, right):
        axis.set_xticks(list(positions), [f"{int(n):,} messages" for n in lengths])
        plain_log(axis)
        axis.grid(True, axis="y", which="both", alpha=0.3)
    left.set_title("Response body (median)")
    left.set_ylabel("KiB (log)")
    left.legend(fontsize=8)
    right.set_title("Time (median)")
    right.set_ylabel("ms (log)")
    right.legend(fontsize=7)
    save(fig, path)


def plain_log(axis: Axes, which: str = "y", subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Log scale labelled 1, 2, 5, 10, ... instead of powers of ten."""
    target = axis.yaxis if which == "y" else axis.xaxis
    (axis.set_yscale if which == "y" else axis.set_xscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    target.set_minor_formatter(NullFormatter())


def style(axis: Axes, title: str, ylabel: str, *, log_y: bool) -> None:
    plain_log(axis, "x", subs=(1.0,))
    if log_y:
        plain_log(axis, "y")
    axis.set_title(title)
    axis.set_xlabel("message number (log)")
    axis.set_ylabel(ylabel)
    axis.grid(True, which="both", alpha=0.3)


def save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- entry point --------------------------------------------------------------------------------


def display(path: Path) -> str:
    """`path` relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def render(source: Path, doc: Path = DOC) -> list[Path]:
    """Write `doc` (docs/benchmarks.md) and its plots (img/ beside it) from `source`.

    Returns the paths written.
    """
    results: R = json.loads(source.read_text())
    img = doc.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    plots = {
        "append": img / "bench-append.png",
        "growth": img / "bench-growth.png",
        "loads": img / "bench-loads.png",
    }
    plot_append(results, plots["append"])
    plot_growth(results, plots["growth"])
    plot_loads(results, plots["loads"])
    sections = [
        header(results, source, doc),
        targets_section(results),
        append_section(results),
        seal_section(results),
        load_section(results),
        list_section(results),
        concurrency_section(results),
        sqlite_section(results),
        floor_section(results),
        method_section(results),
        reproduce_section(),
    ]
    doc.write_text("\n".join([*sections, *hand_run_sections(doc)]))
    return [doc, *plots.values()]


HAND_RUN_HEADING = "## PostgreSQL"


def hand_run_sections(doc: Path) -> list[str]:
    """The sections of suites run on their own (PostgreSQL), kept from the page as it was."""
    text = doc.read_text() if doc.exists() else ""
    start = text.find("\n" + HAND_RUN_HEADING)
    return [] if start < 0 else [text[start + 1 :]]


def newest_results() -> Path:
    files = sorted((REPO / "bench" / "results").glob("*.json"))
    if not files:
        raise SystemExit("no bench/results/*.json yet: run `make bench`")
    return files[-1]


def main() -> None:
    source = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else newest_results()
    for path in render(source):
        print(f"wrote {display(path)}")


if __name__ == "__main__":
    main()
