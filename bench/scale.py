"""How much the benchmarks do: `default` (under 5 minutes on 2 cores) or `full`."""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Scale:
    """Sizes and repetition counts of one benchmark run."""

    name: str
    # Append cost is measured at these message numbers of one growing conversation.
    positions: tuple[int, ...] = (1, 10, 100, 1_000, 10_000)
    # Repetitions: this many consecutive appends from each position (windows must not overlap).
    repetitions: int = 7
    # Independent conversations grown to the last position; their samples are pooled.
    growth_runs: int = 1
    # Conversation lengths at which the recent window and the full conversation are loaded.
    load_at: tuple[int, ...] = (1_000, 10_000)
    load_repetitions: int = 7
    window_messages: int = 50
    list_conversations: int = 1_000
    list_limit: int = 20
    list_repetitions: int = 7
    writers: int = 8
    appends_per_writer: int = 50
    # The concurrent writers start from a conversation this long, so that they cross a seal.
    concurrent_seed_messages: int = 560
    concurrent_rounds: int = 3
    sqlite_threads: int = 4
    sqlite_appends_per_thread: int = 500
    # Whether the run writes bench/results/ and docs/benchmarks.md.
    publish: bool = True

    def __post_init__(self) -> None:
        ordered = sorted(self.positions)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        if gaps and min(gaps) < self.repetitions:
            raise ValueError("append windows would overlap: fewer repetitions or wider positions")

    @property
    def last_message(self) -> int:
        """How long each growth conversation gets."""
        return max([*self.positions, *self.load_at]) + self.repetitions - 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SCALES = {
    "default": Scale(name="default"),
    "full": Scale(
        name="full",
        repetitions=9,
        growth_runs=3,
        load_repetitions=25,
        list_repetitions=25,
        appends_per_writer=250,
        sqlite_appends_per_thread=2_500,
    ),
    # A quick check that everything runs (not for publishing).
    "smoke": Scale(
        name="smoke",
        positions=(1, 10, 100, 700),
        repetitions=5,
        load_at=(100, 700),
        load_repetitions=3,
        list_conversations=50,
        list_repetitions=3,
        appends_per_writer=10,
        concurrent_rounds=1,
        sqlite_appends_per_thread=50,
        publish=False,
    ),
}


def scale_from_env() -> Scale:
    name = os.environ.get("BENCH_SCALE", "default") or "default"
    if name not in SCALES:
        raise SystemExit(f"BENCH_SCALE={name!r}: use one of {', '.join(SCALES)}")
    return SCALES[name]
