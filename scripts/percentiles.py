"""The one percentile every report uses (bench, load, dialogue and retrieval evaluations), so their p50/p95
figures are comparable."""

from __future__ import annotations

import math
import statistics
from typing import Dict, Iterable, Sequence


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0 < q <= 100) by the nearest-rank method: the smallest measured value that at
    least ``q`` % of the values do not exceed (the ``ceil(q / 100 * n)``-th smallest; never an interpolated
    value nobody measured). NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = math.ceil(q / 100.0 * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def latency_summary(values: Sequence[float], digits: int) -> Dict[str, float]:
    """n, p50/p95/p99/mean/max of latencies (ms), rounded to ``digits`` decimals; NaN statistics for no values."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "mean": round(statistics.fmean(values), digits) if values else float("nan"),
        "max": round(max(values), digits) if values else float("nan"),
    }
