"""Evaluate intent classification on the held-out NLU split (tests/nlu_holdout/, never trained on).

Prints weighted intent F1 overall and per part (accented / no-diacritics), writes the report to ``--out`` (no
default: ``make eval-nlu`` names reports/nlu/, ``make test`` a temporary folder, so the tracked report changes only
when it is meant to), and exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"overall": 0.95, "no_diacritics": 0.92}


def load_examples(path: Path):
    """(text, intent) pairs of one Rasa NLU file; retrieval intents compared on their base intent."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(ex.get("text"), ex.get("intent")) for ex in data.intent_examples]


async def predict(agent, texts):
    """Predicted intent names, one per text."""
    out = []
    for text in texts:
        result = await agent.parse_message(text)
        out.append(result["intent"]["name"])
    return out


def main() -> int:
    """Run the evaluation; return 1 if any F1 is below its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "models" / "tthc.tar.gz"))
    parser.add_argument("--holdout", default=str(ROOT / "tests" / "nlu_holdout"))
    parser.add_argument("--out", required=True, help="report folder (make eval-nlu: reports/nlu)")
    parser.add_argument("--min-overall", type=float, default=TARGETS["overall"],
                        help="fail below this overall F1 (default: the target; make test passes its floor)")
    args = parser.parse_args()

    from rasa.core.agent import Agent
    from sklearn.metrics import classification_report, f1_score

    agent = Agent.load(args.model)
    parts = {p.stem: load_examples(p) for p in sorted(Path(args.holdout).glob("*.yml"))}
    started = time.monotonic()
    results = {}
    all_true, all_pred, errors = [], [], []
    for name, examples in parts.items():
        texts = [t for t, _ in examples]
        truth = [i for _, i in examples]
        pred = asyncio.run(predict(agent, texts))
        all_true += truth
        all_pred += pred
        errors += [
            {"part": name, "text": t, "intent": i, "predicted": p} for t, i, p in zip(texts, truth, pred) if i != p
        ]
        results[name] = {"n": len(examples), "f1": round(f1_score(truth, pred, average="weighted", zero_division=0), 4)}
    results["overall"] = {
        "n": len(all_true),
        "f1": round(f1_score(all_true, all_pred, average="weighted", zero_division=0), 4),
    }
    seconds = time.monotonic() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = classification_report(all_true, all_pred, output_dict=True, zero_division=0)
    (out / "intent_report.json").write_text(
        json.dumps({"summary": results, "per_intent": report, "errors": errors}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    lines = [f"{name:15s} n={r['n']:4d}  intent F1={r['f1']:.4f}" for name, r in results.items()]
    lines.append(f"parse time: {1000 * seconds / max(len(all_true), 1):.1f} ms/message")
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    floors = {**TARGETS, "overall": args.min_overall}
    failed = [k for k, floor in floors.items() if k in results and results[k]["f1"] < floor]
    missed = [k for k, target in TARGETS.items() if k in results and results[k]["f1"] < target and k not in failed]
    for key in missed:
        print(f"below target: {key} intent F1 {results[key]['f1']:.4f} < {TARGETS[key]} (floor {floors[key]})")
    for key in failed:
        print(f"FAIL: {key} intent F1 {results[key]['f1']:.4f} < {floors[key]}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} misclassified (see {out / 'intent_report.json'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
