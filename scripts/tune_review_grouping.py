#!/usr/bin/env python
"""Choose REVIEW_GROUP_SIMILARITY: the cosine from which a new review-queue question joins a group.

Reads hand-written pairs of citizen questions (``tests/unit/fixtures/review_pairs.jsonl``: ``{"a", "b", "same"}``,
same meaning or different procedures in similar words), embeds them exactly as the review queue does (the search
encoder through :func:`core.review.grouping.searcher_embedder`), and prints, per threshold, the precision and recall
of "the two join one group". The chosen threshold maximises F0.5 (precision weighs more: a question put in the wrong
group is approved with it and becomes a wrong question-bank line); among equals, the highest.

Usage: python scripts/tune_review_grouping.py [--pairs FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "unit" / "fixtures" / "review_pairs.jsonl"
BETA = 0.5


def load_pairs(path: Path) -> list[dict]:
    """The pairs of the file, one JSON object a line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cosines(pairs: list[dict], embed) -> np.ndarray:
    """The cosine of each pair's two questions under ``embed``."""
    a = embed([p["a"] for p in pairs])
    b = embed([p["b"] for p in pairs])
    if a is None or b is None:
        raise SystemExit("The search encoder is unavailable (build the index: make build-index).")
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


def scores(cos: np.ndarray, same: np.ndarray, threshold: float) -> dict:
    """Precision, recall and F0.5 of joining the pairs whose cosine is at least ``threshold``."""
    joined = cos >= threshold
    tp = int(np.sum(joined & same))
    fp = int(np.sum(joined & ~same))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / int(same.sum()) if same.any() else 0.0
    f = ((1 + BETA**2) * precision * recall / (BETA**2 * precision + recall)) if precision + recall else 0.0
    return {"threshold": round(float(threshold), 2), "precision": round(precision, 3), "recall": round(recall, 3),
            "f0_5": round(f, 3), "joined_same": tp, "joined_different": fp}


def choose(cos: np.ndarray, same: np.ndarray) -> tuple[dict, list[dict]]:
    """The best threshold's scores and the table from 0.50 to 0.99."""
    table = [scores(cos, same, t) for t in np.round(np.arange(0.50, 1.00, 0.01), 2)]
    best = max(table, key=lambda row: (row["f0_5"], row["threshold"]))
    return best, table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    from core.review.grouping import searcher_embedder

    pairs = load_pairs(args.pairs)
    same = np.array([bool(p["same"]) for p in pairs])
    cos = cosines(pairs, searcher_embedder())
    best, table = choose(cos, same)
    if args.json:
        print(json.dumps({"pairs": len(pairs), "same": int(same.sum()), "best": best, "table": table}, indent=1))
        return 0
    for p, c in sorted(zip(pairs, cos), key=lambda x: -x[1]):
        print(f"{c:.3f} {'same' if p['same'] else 'diff'}  {p['a']} | {p['b']}")
    print(f"\n{len(pairs)} pairs ({int(same.sum())} same meaning)")
    for row in table:
        mark = "  <- chosen" if row is best else ""
        print(f"{row['threshold']:.2f}  P={row['precision']:.3f}  R={row['recall']:.3f}  F0.5={row['f0_5']:.3f}"
              f"  ({row['joined_same']} same, {row['joined_different']} different joined){mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
