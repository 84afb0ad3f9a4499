"""Abbreviations read off the procedure records: "GCN" → "giấy chứng nhận", "NHNN" → "ngân hàng nhà nước".

Citizens and businesses write the long official terms by their initials (GCN QSDĐ, HKD, DN, BCNCKT, NHNN, PGD…),
and a curated table only ever holds the ones somebody met. The records hold the long forms: every run of 2–8 words
inside a clause of a procedure's name, aliases, description, applicants, agencies and document names gives an
initialism ("giấy chứng nhận" → GCN). A run must start and end at a word boundary of the clause's word
segmentation (underthesea): "án đầu" inside "dự án | đầu tư" or "hành kèm" inside "ban hành | kèm" straddles a word
and is no term, while "hộ khẩu" inside "sổ | hộ khẩu" is one. :func:`mine` counts them over all records and keeps an
initialism when one long form clearly dominates (at least :data:`MIN_COUNT` times and :data:`DOMINANCE` times the
runner-up): "DN" is "doanh nghiệp" (7,665) over "đề nghị" (4,481), while "TP" (thành phố / tư pháp / thực phẩm) and
"KH" (kế hoạch / khoa học / khách hàng) stay ambiguous and are left out. Runs that start or end with a function
word ("của", "và", "đối"…) are not terms and are not counted.

``python -m knowledge acronyms`` writes the result to ``knowledge/data/acronyms.yml`` (reviewable; rerun after an
import). :class:`knowledge.rewrite.QueryRewriter` expands a question's token with it only when the token is written
as an abbreviation: in capitals inside a question that is not all capitals ("GCN", "QSDĐ"), or, in any case, with
no vowel at all, so that it cannot be a Vietnamese syllable ("hkd", "nhnn", "gplx"). "ca trực" or "TP" are never
touched: "ca" is a syllable and "TP" has no dominant long form.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from knowledge.text import fold, fold_diacritics, nfc

MIN_WORDS, MAX_WORDS = 2, 8
MIN_COUNT = 5  # the long form appears at least this often in the records
DOMINANCE = 1.5  # ... and this many times as often as the next long form with the same initials
FRAGMENT = 1.25  # a run of 3+ words must occur this many times as often as its most frequent one-word extension
MAX_LETTERS = 7  # longer initialisms are not written by people ("GCNQSDĐ" is about the longest)
# Words that do not start or end a term ("của", "và", "đối với"...): runs like "gồm các nội" are not terms.
FUNCTION_WORDS = frozenset(
    "của và với các đối trong tại hoặc cho có được theo là về từ những này đó khi thì để bằng nếu do mà như hay "
    "một đã sẽ đang không ở trên dưới sau trước".split()
)
# Chat shorthand for ordinary words, never initialisms when typed in lower case (the NLU's teencode table covers
# others: "dc" được, "ng" người, "ntn" như thế nào).
CHAT_SHORTHAND = frozenset("vk ck mk mn nc bt ms ns nt cx vs trc".split())
_CLAUSE_BREAK = re.compile(r"[,.;:()\[\]/\"“”\-–+&]+")
_WORD = re.compile(r"[^\W\d_]+")
_VOWELS = frozenset("aeiouy")


def initials(words: Iterable[str]) -> str:
    """The initialism of some words, in folded capitals: ["quyền", "sử", "dụng", "đất"] → "QSDD"."""
    return "".join(fold_diacritics(w.lower())[:1] for w in words).upper()


def record_texts(procedure) -> Iterator[str]:
    """The texts of one record whose word runs are counted."""
    yield procedure.name
    yield from procedure.aliases
    yield procedure.description or ""
    yield from procedure.applicants
    agencies = procedure.agencies
    for group in (agencies.competent, agencies.implementing, agencies.authorised, agencies.coordinating):
        yield from group
    for document in procedure.documents:
        yield document.name or ""


Segmenter = Callable[[str], Sequence[str]]


def word_segments(clause: str) -> Sequence[str]:
    """The clause's words (one or more syllables each) by underthesea's segmenter."""
    from underthesea import word_tokenize

    return word_tokenize(clause)


def syllables_and_boundaries(clause: str, segment: Segmenter) -> Tuple[List[str], frozenset]:
    """The clause's syllables and the syllable positions where a word starts or ends."""
    words: List[str] = []
    boundaries = {0}
    for piece in segment(clause):
        words.extend(_WORD.findall(piece.lower()))
        boundaries.add(len(words))
    return words, frozenset(boundaries)


def count_long_forms(records: Iterable[Iterable[str]], segment: Optional[Segmenter] = None) -> Dict[str, Counter]:
    """``{initialism: Counter(long form → occurrences)}`` over every term-like run of 2–8 syllables of every record
    that starts and ends at a word boundary (``segment``: a clause's words, default :func:`word_segments`)."""
    segment = segment or word_segments
    segmented: Dict[str, Tuple[List[str], frozenset]] = {}  # clauses repeat across records (document names)
    counts: Dict[str, Counter] = defaultdict(Counter)
    every_run: Counter = Counter()  # aligned or not: what a run extends to
    for texts in records:
        runs: Counter = Counter()
        for text in texts:
            for clause in _CLAUSE_BREAK.split(nfc(text or "").lower()):
                if not _WORD.search(clause):
                    continue
                if clause not in segmented:
                    segmented[clause] = syllables_and_boundaries(clause, segment)
                words, boundaries = segmented[clause]
                for n in range(MIN_WORDS, MAX_WORDS + 1):
                    for i in range(len(words) - n + 1):
                        run = words[i : i + n]
                        if run[0] in FUNCTION_WORDS or run[-1] in FUNCTION_WORDS:
                            continue
                        joined = " ".join(run)
                        every_run[joined] += 1
                        if i in boundaries and i + n in boundaries:
                            runs[joined] += 1
        for run, n in runs.items():
            counts[initials(run.split())][run] += n
    # A run of 3+ words that (nearly) always occurs inside one longer run is a fragment of that term, not a term
    # ("trình giấy tờ tùy" of "xuất trình giấy tờ tùy thân", "giấy tờ về trúng" of "... trúng đấu giá"): dropped.
    # The longer run counts whether or not it is aligned with words. Two-word terms ("doanh nghiệp") are kept
    # however often they start a longer one.
    longest_extension: Counter = Counter()
    for run, n in every_run.items():
        words = run.split()
        if len(words) > MIN_WORDS + 1:
            for part in (" ".join(words[1:]), " ".join(words[:-1])):
                longest_extension[part] = max(longest_extension[part], n)
    for key in list(counts):
        forms = counts[key]
        for run in [r for r, n in forms.items() if n < FRAGMENT * longest_extension[r]]:
            del forms[run]
        if not forms:
            del counts[key]
    return counts


def mine(records: Iterable[Iterable[str]], min_count: int = MIN_COUNT, dominance: float = DOMINANCE,
         max_letters: int = MAX_LETTERS, segment: Optional[Segmenter] = None) -> Dict[str, dict]:
    """The initialisms with a dominant long form, from the texts of each record: ``{"GCN": {"means": "giấy chứng
    nhận", "count": 4090, "next": 125}}`` (occurrences in the records). Long forms that differ only by old / new tone
    placement ("uỷ" / "ủy") are one long form."""
    table: Dict[str, dict] = {}
    for key, forms in count_long_forms(records, segment).items():
        if len(key) > max_letters:
            continue
        merged: Counter = Counter()
        spelling: Dict[str, str] = {}
        for form, n in forms.items():
            folded = fold_diacritics(form)
            merged[folded] += n
            if folded not in spelling or forms[spelling[folded]] < n:
                spelling[folded] = form
        ranked = merged.most_common(2)
        best, count = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if count >= min_count and count >= dominance * runner_up:
            table[key] = {"means": spelling[best], "count": count, "next": runner_up}
    return table


def data_file() -> Path:
    """``acronyms.yml`` of the knowledge base (KB_DIR, default knowledge/data)."""
    from knowledge.store import data_dir

    return data_dir() / "acronyms.yml"


def write(table: Dict[str, dict], path: Optional[Path] = None) -> Path:
    """The reviewable YAML file (default :func:`data_file`): one line per initialism, sorted; returns its path."""
    lines = [
        "# Abbreviations mined from the procedure records by `python -m knowledge acronyms` (knowledge/acronyms.py):",
        "# initialism (folded capitals, Đ as D): the dominant long form, how often it appears in the records and how",
        "# often the next long form with the same initials does. Regenerate after an import; do not edit by hand.",
        "acronyms:",
    ]
    for key in sorted(table):
        entry = table[key]
        lines.append(f"  {key}: {{means: \"{entry['means']}\", count: {entry['count']}, next: {entry['next']}}}")
    path = path or data_file()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Optional[Path] = None) -> Dict[str, str]:
    """``{initialism: long form}`` from ``path`` (default :func:`data_file`; empty when it is missing)."""
    path = path or data_file()
    if not path.exists():
        return {}
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): nfc(v["means"]) for k, v in (data.get("acronyms") or {}).items()}


def looks_abbreviated(token: str, shouting: bool) -> bool:
    """Whether a token of a question is written as an abbreviation: no vowel at all ("hkd", "NHNN"), or in
    capitals ("GCN", "QSDĐ", "ATTP") unless the whole question is in capitals (``shouting``)."""
    if len(token) < 2 or not _WORD.fullmatch(token):
        return False
    plain = token.lower().replace("đ", "d")
    if fold_diacritics(plain) != plain:  # a letter with a diacritic other than "đ": a written word
        return False
    if not any(ch in _VOWELS for ch in plain):
        return True
    return token.isupper() and not shouting


def abbreviations_in(query: str, table: Dict[str, str]) -> List[tuple]:
    """``[(token, long form)]`` for the tokens of ``query`` the table expands (each initialism once)."""
    letters = [ch for ch in query if ch.isalpha()]
    shouting = len(letters) >= 12 and sum(ch.isupper() for ch in letters) / len(letters) > 0.8
    found, seen = [], set()
    for token in _WORD.findall(nfc(query)):
        key = fold_diacritics(token.lower()).upper()
        if key in seen or key not in table or not looks_abbreviated(token, shouting):
            continue
        # Teencode of another word is that word ("dc" = được, "ng" = người), not an initialism; teencode of the same
        # term ("gcn", "hkd") is. So is chat shorthand typed in lower case ("vk" = vợ; "VK" may be vũ khí).
        expanded = fold(token)
        if expanded != key.lower() and expanded != fold(table[key]):
            continue
        if token.islower() and token in CHAT_SHORTHAND:
            continue
        seen.add(key)
        found.append((token, table[key]))
    return found
