"""The one percentile of every report (scripts/percentiles.py): nearest rank, a measured value, never interpolated."""

from __future__ import annotations

import math

import pytest

from scripts.percentiles import percentile


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


def test_every_report_uses_it():
    """The bench, load and evaluation scripts compute no percentile of their own."""
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    for name in ("bench_search.py", "bench_encoder.py", "load.py", "eval_dialogue.py", "eval_retrieval.py"):
        text = (scripts / name).read_text(encoding="utf-8")
        assert "from scripts.percentiles import percentile" in text, name
        assert "np.percentile" not in text and "def pct" not in text and "def _percentile" not in text, name
