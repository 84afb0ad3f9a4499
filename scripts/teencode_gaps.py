"""Words of the question bank's teencode and unaccented questions that neither the knowledge base nor the teencode table
knows.

The teencode table (``nlu_components/teencode.tsv``) expands chat shorthand ("ko", "dc", "ntn") before the knowledge
search and in the NLU tokenizer; a shorthand without an entry ("bjo", "kq", "hq") reaches BM25 and the dense model as
an unknown word. This lists the words of the **train** split's questions of the given styles (default ``teencode``
and ``no_diacritics``) that are not in the table and are no syllable of the knowledge base's own text (procedure
records and FAQ: a word written with diacritics must occur there as written, a word without diacritics must occur
there once folded: "tuc" is "tục" with its tone left out, not a gap), most frequent first, with an example each, as
the to-do list of the table's reviewers. Words the search's initialism table (``knowledge/data/acronyms.yml``,
:mod:`knowledge.acronyms`) expands are marked with their long form: the NLU tokenizer does not see that table.
Test-split questions are never read: the table must not be shaped by them.

Usage: ``python scripts/teencode_gaps.py [--top 100] [--style teencode] [--min-count 2]`` (action venv).
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nlu_components.normalize import WORD_RE, fold_diacritics, load_teencode  # noqa: E402

DEFAULT_STYLES = ("teencode", "no_diacritics")
_DIGIT = re.compile(r"\d")
# The spelling of a Vietnamese syllable, folded: initial consonant, vowels, final consonant ("nghieng", "khuya");
# "k" and "gh"/"ngh" only before e/i/y, "c"/"g"/"ng" never before them ("ko", "cj", "ngi" are no syllables).
_SYLLABLE = re.compile(
    r"gi(?:ch|ng|nh|[cmnpt])?|(?:(?:k|gh|ngh)(?=[eiy])|(?:c|g|ng)(?![eiy])|ch|gi|kh|nh|ph|qu|th|tr|[bdhlmnprstvx])?"
    r"(?:[aeiouy]{1,3})(?:ch|ng|nh|[cmnpt])?"
)


def is_syllable(word: str) -> bool:
    """Whether a word is spelt like a Vietnamese syllable (diacritics aside): "tuc", "nghieng"; not "ko", "dc"."""
    return bool(_SYLLABLE.fullmatch(fold_diacritics(word.lower())))


def kb_vocabulary(sentences: Iterable[List[str]], min_count: int = 2,
                  conversation: Iterable[List[str]] = ()) -> Tuple[Set[str], Set[str]]:
    """``(written, folded)``: the lower-case words of the knowledge base's text seen at least ``min_count`` times,
    as written and folded (a word met once may be a typo of the records). ``conversation``: the accented questions
    of the NLU data, whose words the records lack ("ạ", "mấy", "nữa"); only their words with diacritics that are
    spelt like syllables join ``written`` (those questions hold chat shorthand too: "ko", "đc", "cty")."""
    counts: Counter = Counter()
    for words in sentences:
        counts.update(words)
    written = {w for w, n in counts.items() if n >= min_count}
    folded: Counter = Counter()
    for word, n in counts.items():
        folded[fold_diacritics(word)] += n
    for words in conversation:
        written.update(w for w in words if fold_diacritics(w) != w and is_syllable(w))
    return written, {w for w, n in folded.items() if n >= min_count}


def question_words(question: str) -> List[Tuple[str, str]]:
    """``(word as typed, lower-case NFC word)`` of a question, numbers and codes left out."""
    text = unicodedata.normalize("NFC", question)
    return [(w, w.lower()) for w in WORD_RE.findall(text) if not _DIGIT.search(w)]


def is_known(word: str, written: Set[str], folded: Set[str], table: Dict[str, str]) -> bool:
    """Whether a lower-case word is in the teencode table or is a syllable of the knowledge base: as written when
    it carries diacritics ("mún" is no word even though "mùn" is), folded when it carries none ("tuc" is "tục")."""
    if word in table:
        return True
    if not is_syllable(word):
        return False
    plain = fold_diacritics(word)
    return plain in folded if plain == word else word in written


def gaps(questions: Iterable[str], written: Set[str], folded: Set[str], table: Dict[str, str],
         acronyms: Optional[Dict[str, str]] = None) -> Tuple[Counter, int, Dict[str, str], Dict[str, str]]:
    """``(unknown word counts, number of words, an example question per unknown word, long form per word the
    initialism table expands in the search)``."""
    from knowledge.acronyms import abbreviations_in

    unknown: Counter = Counter()
    example: Dict[str, str] = {}
    expanded: Dict[str, str] = {}
    total = 0
    for question in questions:
        by_acronym = {t.lower(): long for t, long in abbreviations_in(question, acronyms or {})}
        for _, word in question_words(question):
            total += 1
            if is_known(word, written, folded, table):
                continue
            unknown[word] += 1
            example.setdefault(word, question)
            if word in by_acronym:
                expanded.setdefault(word, by_acronym[word])
    return unknown, total, example, expanded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--style", action="append", help=f"question style (repeatable; default {DEFAULT_STYLES})")
    parser.add_argument("--min-count", type=int, default=2, help="times a word must occur in the knowledge base")
    parser.add_argument("--teencode", help="teencode table to check against (default nlu_components/teencode.tsv)")
    args = parser.parse_args(argv)
    from knowledge import acronyms
    from knowledge.accents import NLU_DIR, corpus_sentences, nlu_examples
    from knowledge.bank import load_bank

    conversation = (WORD_RE.findall(unicodedata.normalize("NFC", t).lower()) for t in nlu_examples(NLU_DIR))
    written, folded = kb_vocabulary(corpus_sentences(nlu_dir=None, with_bank=False), args.min_count, conversation)
    table = load_teencode(args.teencode)
    initialisms = acronyms.load()
    train = [q for q in load_bank(splits=("train",)) if q.answerable]
    styles = args.style or list(DEFAULT_STYLES)
    for style in styles:
        questions = [q.q for q in train if q.style == style]
        unknown, total, example, expanded = gaps(questions, written, folded, table, initialisms)
        share = sum(unknown.values()) / max(total, 1)
        print(f"{style}: {len(questions)} train-split questions, {total} words, {sum(unknown.values())} unknown "
              f"({share:.1%}), {len(unknown)} distinct")
        for word, n in unknown.most_common(args.top):
            mark = f"[{expanded[word]}]" if word in expanded else ""
            print(f"{n:5d}  {word:<10} {mark:<28} {example[word][:90]}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
