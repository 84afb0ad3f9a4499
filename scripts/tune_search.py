"""Tune the hybrid search's FusionParams on the retrieval dev set and write ``knowledge/fusion.json``.

The component scores of every candidate (raw dense cosine, max-normalised BM25, query-word coverage, alias
match) are computed once per question exactly as :meth:`knowledge.search.Searcher.search` computes them,
and cached; the fused score, ranking and abstention are then recomputed in numpy for each parameter set,
so thousands of settings take seconds. Random search (plus local refinement around the best point) over
the weights, the penalties/bonus, ``dense_floor``/``dense_span``, ``abstain_below`` and ``ambiguous_margin``, on a 70/30
split of the dev set by id hash: parameters are chosen on the train part only, the test part is reported.

Usage::

    python scripts/tune_search.py [--index-dir models/kb-index] [--samples 3000] [--dry-run]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from eval_retrieval import (  # noqa: E402
    DEVSET,
    FUSION_JSON,
    RECALL_WEIGHT,
    STYLES,
    TOP_K,
    encode_all,
    load_devset,
    make_searcher,
    objective,
    run_system,
    score_runs,
)

ABSTAIN_GRID = np.round(np.arange(-0.10, 0.851, 0.01), 3)
MARGIN_GRID = np.array([0.0, 0.005, 0.01, 0.02, 0.03, 0.05])
WEIGHTS = ("w_dense", "w_lexical", "w_coverage", "w_alias", "w_idf_coverage")
# Penalty/bonus weights of the operation parts, sampled on their own scale (not part of the Dirichlet).
EXTRA = ("w_missing", "w_variant", "w_operation")
PARTS = ("dense", "lexical", "coverage", "alias", "idf_coverage", "missing", "variant", "operation")


def split_of(qid: str, test_share: float = 0.3) -> str:
    """Stable train/test assignment from the id's hash."""
    bucket = int(hashlib.md5(qid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < test_share else "train"


# -- component cache -----------------------------------------------------------------------------------------
def components(searcher, query: str, candidates: int, vector=None) -> dict:
    """Per-candidate score parts for ``query`` from ``Searcher.score_parts`` (raw dense cosine kept)."""
    searcher.params = replace(searcher.params, candidates=candidates)
    parts = searcher.score_parts((query or "").strip(), vector)
    if parts is None:
        return {"no_topic": True, "codes": [], "parts": np.zeros((0, len(PARTS)), np.float64)}
    order = sorted(range(len(parts["cand"])), key=lambda r: searcher.entries[int(parts["cand"][r])]["code"])
    stacked = np.stack([parts[name] for name in PARTS], axis=1)[order]
    codes = [searcher.entries[int(parts["cand"][r])]["code"] for r in order]
    return {"no_topic": False, "codes": codes, "parts": stacked.astype(np.float64)}


def build_cache(searcher, devset: List[dict], candidates: int) -> Dict[str, dict]:
    """Components for every dev question (queries embedded in one batch)."""
    vectors = encode_all(searcher, devset)
    return {r["id"]: components(searcher, r["question"], candidates, v) for r, v in zip(devset, vectors)}


class Matrix:
    """The cache padded into dense arrays for vectorised scoring of one subset of questions."""

    def __init__(self, devset: List[dict], cache: Dict[str, dict]) -> None:
        self.records = devset
        width = max((len(cache[r["id"]]["codes"]) for r in devset), default=1) or 1
        n = len(devset)
        self.parts = np.zeros((n, width, len(PARTS)), np.float64)
        self.valid = np.zeros((n, width), bool)
        self.correct = np.zeros((n, width), bool)
        self.no_topic = np.zeros(n, bool)
        self.codes = [cache[r["id"]]["codes"] for r in devset]
        for i, record in enumerate(devset):
            entry = cache[record["id"]]
            k = len(entry["codes"])
            self.no_topic[i] = entry["no_topic"]
            self.parts[i, :k] = entry["parts"]
            self.valid[i, :k] = True
            wanted = set(record["expected"])
            self.correct[i, :k] = [c in wanted for c in entry["codes"]]
        self.answerable = np.array([bool(r["expected"]) for r in devset])
        self.style_masks = {s: np.array([r["style"] == s for r in devset]) for s in STYLES}

    def scores(self, p: dict) -> np.ndarray:
        """Fused scores (padding = -inf) for params ``p``."""
        dense = np.clip((self.parts[..., 0] - p["dense_floor"]) / p["dense_span"], 0.0, 1.0)
        fused = (
            p["w_dense"] * dense
            + p["w_lexical"] * self.parts[..., 1]
            + p["w_coverage"] * self.parts[..., 2]
            + p["w_alias"] * self.parts[..., 3]
            + p.get("w_idf_coverage", 0.0) * self.parts[..., 4]
            - p.get("w_missing", 0.0) * self.parts[..., 5]
            - p.get("w_variant", 0.0) * self.parts[..., 6]
            + p.get("w_operation", 0.0) * self.parts[..., 7]
        )
        return np.where(self.valid, fused, -np.inf)

    def outcome(self, p: dict) -> dict:
        """Per-question top-1 correctness, top score, gap and rank of the first correct candidate."""
        s = self.scores(p)
        n, width = s.shape
        top = np.argmax(s, axis=1)  # first maximum = lowest code: the searcher's tie-break
        top_score = s[np.arange(n), top]
        second = np.partition(s, width - 2, axis=1)[:, width - 2] if width > 1 else np.full(n, -np.inf)
        top1_correct = self.correct[np.arange(n), top] & ~self.no_topic
        # rank of the best correct candidate: strictly higher scores + equal scores earlier in code order
        best_rank = np.full(n, np.inf)
        cols = np.arange(width)
        for i in np.nonzero(self.correct.any(axis=1) & ~self.no_topic)[0]:
            row = s[i]
            ranks = [
                1 + np.sum(row > row[j]) + np.sum((row == row[j]) & (cols < j))
                for j in np.nonzero(self.correct[i])[0]
            ]
            best_rank[i] = min(ranks)
        best_rank[best_rank > TOP_K] = np.inf
        return {"top1": top1_correct, "top": top_score, "gap": top_score - second, "rank": best_rank}

    def grid_objective(self, p: dict) -> tuple:
        """Best (objective, abstain_below, margin) over the threshold grids for weights ``p``."""
        o = self.outcome(p)
        # abstain[a, q]
        abstain = (o["top"][None, :] < ABSTAIN_GRID[:, None]) | self.no_topic[None, :]
        best = (-1e9, 0.0, 0.0)
        unans = ~self.answerable
        hit1 = np.mean([o["top1"][m].mean() for m in self.style_masks.values() if m.any()])
        answered = (o["top1"][None, :] & ~abstain)[:, self.answerable].mean(axis=1)
        recall = abstain[:, unans].mean(axis=1) if unans.any() else np.zeros(len(ABSTAIN_GRID))
        for margin in MARGIN_GRID:
            ambiguous = ~abstain & (o["gap"][None, :] < margin)
            wrong_conf = (~abstain & ~ambiguous & ~o["top1"][None, :]).mean(axis=1)
            values = hit1 + answered + RECALL_WEIGHT * recall - 2.0 * wrong_conf - 0.25 * ambiguous.mean(axis=1)
            i = int(np.argmax(values))
            if values[i] > best[0]:
                best = (float(values[i]), float(ABSTAIN_GRID[i]), float(margin))
        return best

    def runs(self, p: dict) -> Dict[str, dict]:
        """Searcher-like outcomes for :func:`eval_retrieval.score_runs` (codes reduced to right/wrong)."""
        o = self.outcome(p)
        out = {}
        for i, record in enumerate(self.records):
            expected = record["expected"][0] if record["expected"] else None
            rank = o["rank"][i]
            codes = ["<wrong>"] * TOP_K
            if np.isfinite(rank):
                codes[int(rank) - 1] = expected
            abstain = bool(self.no_topic[i] or o["top"][i] < p["abstain_below"])
            out[record["id"]] = {
                "codes": codes if not self.no_topic[i] else [],
                "abstain": abstain,
                "ambiguous": bool(not abstain and o["gap"][i] < p["ambiguous_margin"]),
            }
        return out


def sample_params(rng: np.random.Generator, around: Optional[dict] = None) -> dict:
    """A random parameter point (weights sum to 1), or a perturbation of ``around``."""
    if around is None:
        w = rng.dirichlet(np.ones(len(WEIGHTS)))
        p = dict(zip(WEIGHTS, w))
        p["dense_floor"] = float(rng.uniform(0.65, 0.86))
        p["dense_span"] = float(rng.uniform(0.05, 0.30))
        for k in EXTRA:
            p[k] = float(rng.uniform(0.0, 0.25))
    else:
        w = np.array([max(around.get(k, 0.0), 0.01) for k in WEIGHTS]) * np.exp(rng.normal(0, 0.25, len(WEIGHTS)))
        w = w / w.sum()
        p = dict(zip(WEIGHTS, w))
        p["dense_floor"] = float(np.clip(around["dense_floor"] + rng.normal(0, 0.02), 0.5, 0.95))
        p["dense_span"] = float(np.clip(around["dense_span"] * np.exp(rng.normal(0, 0.2)), 0.02, 0.5))
        for k in EXTRA:
            p[k] = float(np.clip(around.get(k, 0.0) + rng.normal(0, 0.03), 0.0, 0.4))
    return {k: float(v) for k, v in p.items()}


def tune(train: Matrix, samples: int, seed: int, start: dict) -> dict:
    """Random search then local refinement; returns the best params (with thresholds) on ``train``."""
    rng = np.random.default_rng(seed)
    best_value, best = -1e9, None
    points = [dict(start)] + [sample_params(rng) for _ in range(samples)]
    for phase in range(2):
        for p in points:
            value, threshold, margin = train.grid_objective(p)
            if value > best_value + 1e-12:
                best_value, best = value, {**p, "abstain_below": threshold, "ambiguous_margin": margin}
        if phase == 0:
            points = [sample_params(rng, best) for _ in range(samples // 2)]
    best["objective"] = best_value
    return best


def metrics_for(matrix: Matrix, p: dict) -> dict:
    """Eval-style metrics for params ``p`` on one subset."""
    runs = matrix.runs(p)
    m = score_runs(matrix.records, runs)
    m["objective"] = objective(m)
    return m


def summary(name: str, m: dict) -> str:
    """One line per subset."""
    styles = " ".join(f"{s[:5]}={m['styles'][s]['hit@1']:.2f}" for s in STYLES if s in m["styles"])
    return (
        f"{name:12} hit@1 {m['styles']['all']['hit@1']:.3f} ({styles})  mrr {m['styles']['all']['mrr']:.3f}  "
        f"answered@1 {m['styles']['all']['answered@1']:.3f}  abstain-recall {m['abstention']['recall']:.3f}  "
        f"false-abstain {m['abstention']['false_abstain_rate']:.3f}  "
        f"wrong-conf {m['wrong_confident_rate']:.3f}  J {m['objective']:.3f}"
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    from knowledge.search import FusionParams

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "models" / "kb-index")
    parser.add_argument("--encoder", default="e5-small")
    parser.add_argument("--devset", type=Path, default=DEVSET)
    parser.add_argument("--out", type=Path, default=FUSION_JSON)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the component cache")
    parser.add_argument("--dry-run", action="store_true", help="do not write the params file")
    parser.add_argument("--verify", action="store_true", help="check the cache reproduces Searcher.search")
    args = parser.parse_args(argv)

    devset = load_devset(args.devset)
    start = FusionParams.load(args.out if args.out.exists() else None)
    searcher = make_searcher(args.index_dir, args.encoder, start)
    key = hashlib.md5(
        (json.dumps(searcher.config, sort_keys=True) + args.devset.read_text(encoding="utf-8")).encode()
    ).hexdigest()[:12]
    cache_path = args.cache or Path(f"/tmp/kb_tune_cache_{key}.pkl")
    if cache_path.exists():
        cache = pickle.loads(cache_path.read_bytes())
    else:
        cache = build_cache(searcher, devset, start.candidates)
        cache_path.write_bytes(pickle.dumps(cache))
    print(f"component cache: {cache_path}")

    full = Matrix(devset, cache)
    start_p = {f.name: getattr(start, f.name) for f in fields(FusionParams)}
    if args.verify:
        real = run_system(searcher, devset, start)
        top = np.argmax(full.scores(start_p), axis=1)
        cached = full.runs(start_p)
        agree = sum(
            real[r["id"]]["abstain"] == cached[r["id"]]["abstain"]
            and real[r["id"]]["codes"][:1] == full.codes[i][top[i] : top[i] + 1]
            for i, r in enumerate(devset)
        )
        print(f"verify: cache reproduces Searcher.search top-1 and abstention on {agree}/{len(devset)}")

    train_set = [r for r in devset if split_of(r["id"]) == "train"]
    test_set = [r for r in devset if split_of(r["id"]) == "test"]
    train, test = Matrix(train_set, cache), Matrix(test_set, cache)
    print(f"split: {len(train_set)} train / {len(test_set)} test")
    print("before (current params):")
    for name, matrix in (("train", train), ("test", test), ("all", full)):
        print("  " + summary(name, metrics_for(matrix, start_p)))

    best = tune(train, args.samples, args.seed, start_p)
    print(f"best on train: J={best.pop('objective'):.4f}")
    print("after (tuned on train):")
    for name, matrix in (("train", train), ("test", test), ("all", full)):
        print("  " + summary(name, metrics_for(matrix, best)))
    params = replace(start, **{k: round(v, 4) for k, v in best.items()})
    print(json.dumps(asdict(params), indent=1))
    if not args.dry_run:
        args.out.write_text(json.dumps(asdict(params), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
