"""Words and word pairs of the question bank's English questions that no entry of ``glossary_en.yml`` covers.

The English rewriter (``knowledge/rewrite.py``) keeps only the Vietnamese of the glossary phrases it finds, so an
English word without an entry is invisible to BM25. This lists the uncovered content words of the **train** split's
English questions, most frequent first, with an example, as the to-do list of the glossary's reviewers (test-split
questions are never read: the glossary is a table that must not be shaped by them).

Usage: ``python scripts/glossary_gaps.py [--top 100] [--pairs]`` (action venv).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Function words and question words: never glossary entries.
STOP = frozenset(
    "the a an of to for in on at by with and or is are was were be been do does did i we my our us you your it its "
    "can how what where which who when whose this that these those there from as if have has had need needs want "
    "wants get got will would should must may might any some no not into about than then so but also our their they "
    "he she his her him them me just still already after before under over through without".split()
)
_WORD = re.compile(r"[a-z]+")


def uncovered(questions: Iterable[str], rewriter) -> Tuple[Counter, Counter, Dict[str, str]]:
    """Counts of uncovered content words and adjacent word pairs, and an example question for each."""
    from knowledge.rewrite import english_normalise

    words, pairs, example = Counter(), Counter(), {}
    for question in questions:
        text = english_normalise(question)
        covered = {i for m in rewriter.en_pattern.finditer(text) for i in range(m.start(), m.end())}
        tokens = [(m.group(), m.start()) for m in _WORD.finditer(text)
                  if m.start() not in covered and m.group() not in STOP and len(m.group()) > 2]
        for word, _ in tokens:
            words[word] += 1
            example.setdefault(word, question)
        for (a, i), (b, j) in zip(tokens, tokens[1:]):
            if text[i:j + len(b)].count(" ") == 1:  # adjacent in the question
                pairs[f"{a} {b}"] += 1
                example.setdefault(f"{a} {b}", question)
    return words, pairs, example


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--pairs", action="store_true", help="list word pairs instead of words")
    args = parser.parse_args(argv)
    from knowledge.bank import load_bank
    from knowledge.rewrite import QueryRewriter

    questions: List[str] = [q.q for q in load_bank(splits=("train",)) if q.answerable and q.style == "english"]
    words, pairs, example = uncovered(questions, QueryRewriter.from_files())
    counts = pairs if args.pairs else words
    print(f"{len(questions)} English train-split questions; {len(counts)} uncovered "
          f"{'pairs' if args.pairs else 'words'}")
    for item, n in counts.most_common(args.top):
        print(f"{n:5d}  {item:<28} {example[item][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
