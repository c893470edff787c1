"""Summaries of measured durations for ``ganloops bench``: median, 99th percentile, best, worst.

Benchmarks on a shared machine are noisy, so every figure is a distribution, not one
number: the median says what usually happens, the 99th percentile what a performer meets
every few minutes, and the worst case is kept beside them (with 200 samples the 99th
percentile is close to it). Percentiles interpolate linearly between samples (numpy's
default), so ``p99 >= p50`` always holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass(frozen=True)
class Summary:
    """A distribution of values in one unit (the field names of the owner say which)."""

    count: int
    p50: float
    p99: float
    best: float
    worst: float
    mean: float

    def to_json(self) -> dict[str, float | int]:
        return {"count": self.count, "p50": self.p50, "p99": self.p99, "best": self.best, "worst": self.worst,
                "mean": self.mean}


def summarize(values: Iterable[float]) -> Summary | None:
    """The summary of the finite values in `values`, or None when there are none."""
    array = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if array.size == 0:
        return None
    return Summary(count=int(array.size), p50=float(np.percentile(array, 50)), p99=float(np.percentile(array, 99)),
                   best=float(array.min()), worst=float(array.max()), mean=float(array.mean()))
