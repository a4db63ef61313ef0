"""Summaries of repeated measurements: median and spread."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TypedDict


class Summary(TypedDict):
    n: int
    median: float
    min: float
    max: float
    p10: float
    p90: float


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("nothing to summarize")
    return Summary(
        n=len(values),
        median=statistics.median(values),
        min=min(values),
        max=max(values),
        p10=quantile(values, 0.1),
        p90=quantile(values, 0.9),
    )


def rolling_median(values: Sequence[float], width: int) -> list[float]:
    """Median of each consecutive block of `width` values (the last block may be shorter)."""
    return [
        statistics.median(values[start : start + width]) for start in range(0, len(values), width)
    ]
