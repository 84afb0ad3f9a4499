"""The one percentile of every report (scripts/percentiles.py): nearest rank, a measured value, never interpolated."""

from __future__ import annotations

import math
import re

import pytest

from scripts.percentiles import latency_summary, percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        ([3, 1, 2], 50, 2),  # unsorted input
        (list(range(1, 101)), 95, 95),
        (list(range(1, 21)), 95, 19),  # interpolation would give 19.05
        ([7.5], 99, 7.5),
    ],
)
def test_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_no_values_is_nan():
    assert math.isnan(percentile([], 95))


def test_latency_summary_rounds_the_nearest_rank_figures():
    summary = latency_summary([1.0, 2.5, 3.25], 1)
    assert summary == {"n": 3, "p50": 2.5, "p95": 3.2, "p99": 3.2, "mean": 2.2, "max": 3.2}
    assert latency_summary([1.0, 2.5, 3.25], 3)["p95"] == 3.25
    empty = latency_summary([], 3)
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("p50", "p95", "p99", "mean", "max"))


def test_every_report_uses_it():
    """The bench, load and evaluation scripts compute no percentile of their own."""
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    for name in ("bench_search.py", "bench_encoder.py", "load.py", "eval_dialogue.py", "eval_retrieval.py"):
        text = (scripts / name).read_text(encoding="utf-8")
        # Its percentile, or its latency summary built on that percentile.
        assert re.search(r"^from scripts\.percentiles import [\w, ]*\b(percentile|latency_summary)\b", text, re.M), name
        assert "np.percentile" not in text and "def pct" not in text and "def _percentile" not in text, name
