"""How well the diacritic restorer (knowledge/accents.py) puts back the diacritics of questions typed without them.

Every accented question of a set is folded ("Bị mất sổ đỏ" -> "bi mat so do"), restored, and compared syllable by
syllable with what was written. Sets: the strangers' calibration and test sets and the bank's test split (never in
the model's corpus: it learns from the bank's train split only), each with the model as built (procedure texts, NLU
questions, the bank's train split) and, for the contribution of the bank, without the bank's questions.

Usage: ``python scripts/eval_accents.py [--out reports/retrieval/accents.json]`` (action venv; ~30 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    from knowledge.accents import AccentRestorer, corpus_sentences, has_diacritics
    from knowledge.bank import load_bank, load_strangers

    sets = {
        "strangers_calibration": [r["q"] for r in load_strangers("calibration")],
        "strangers_test": [r["q"] for r in load_strangers("test")],
        "bank_test_split": [q.q for q in load_bank(splits=("test",))],
    }
    models = {"as built": AccentRestorer.train(corpus_sentences()),
              "without the bank": AccentRestorer.train(corpus_sentences(with_bank=False))}
    report = {}
    for model_name, model in models.items():
        for set_name, texts in sets.items():
            numbers = model.syllable_accuracy(t for t in texts if has_diacritics(t))
            report.setdefault(model_name, {})[set_name] = numbers
            print(f"{model_name:17s} {set_name:22s} {numbers['questions']:5d} questions  syllables right "
                  f"{numbers['syllable_accuracy']:.4f}  questions exact {numbers['question_exact']:.3f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
