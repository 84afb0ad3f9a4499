"""The question bank: questions people would type, written by the project from the procedure records.

Files under ``knowledge/data/questions/``:

- ``bank/*.jsonl``: one question a line, ``{"code": "1.001193", "q": "...", "style": "story"}``; ``code`` is
  ``null`` for a near-domain question no procedure answers (then ``topic`` says what it is about);
- ``split.jsonl``: one procedure a line, ``{"code", "family", "split"}``, fixed and recorded. A *family* is a
  procedure with its level variants and operation siblings (see :func:`family_key`); whole families go to
  ``train`` (80 %) or ``test`` (20 %). Unanswerable questions are split by a hash of their text.

Nothing from test families may shape tables, aliases, weights, thresholds or training: the ranker trainer
(``knowledge/ranker.py``) reads :func:`load_bank` with ``splits=("train",)`` only, and ``make eval`` scores the
test split with an index whose question-to-question part holds train questions only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from knowledge.text import fold
from nlu_components.normalize import load_teencode

STYLES = ("story", "short", "no_diacritics", "teencode", "aspect", "formal", "abbrev", "english")
UNANSWERABLE_TOPICS = (
    "policy_amount", "law_interpretation", "officer_complaint", "private_service", "other_province_news",
    "personal_dispute", "opinion", "other",
)
TEST_SHARE = 0.20
# Style mix the bank must keep (share of answerable questions), so it reads like real traffic.
MIN_STYLE_SHARE = {"story": 0.12, "short": 0.07, "no_diacritics": 0.08, "teencode": 0.05, "aspect": 0.12,
                   "formal": 0.06, "abbrev": 0.03, "english": 0.02}
MIN_QUESTIONS = 4
MIN_QUESTIONS_COMMON = 12
MIN_UNANSWERABLE = 600
NEAR_DUPLICATE_JACCARD = 0.8
MAX_NEAR_DUPLICATE_SHARE = 0.05
# The teencode table as it was when split.jsonl was recorded (see bank_fold).
BANK_TEENCODE = Path(__file__).with_name("bank_teencode.tsv")

_WORD = re.compile(r"\w+")
# Words that make siblings of one procedure: removed from the name to form the family key.
LEVEL_PHRASES = re.compile(
    r"\(?\s*(?:thuc hien |thuoc tham quyen (?:giai quyet )?)?(?:tai |o )?cap "
    r"(?:trung uong|bo|tinh|huyen|xa|co so)\b\)?|\bcap (?:trung uong|tinh|huyen|xa)\b|\btrung uong\b|"
    r"\bdia phuong\b"
)
_OPERATION_WORDS = re.compile(
    r"\b(?:thu tuc|cap moi|cap lai|cap doi|cap lan dau|cap|gia han|dieu chinh|sua doi|bo sung|thay doi|thu hoi|"
    r"huy bo|huy|rut|cham dut|tam ngung|dinh chi|dang ky lai|dang ky thay doi|chuyen doi|"
    r"khong co yeu to nuoc ngoai|co yeu to nuoc ngoai|nhap khau|xuat khau|lan dau|lai|doi|moi)\b"
)


@lru_cache(maxsize=1)
def _bank_teencode() -> Dict[str, str]:
    return load_teencode(str(BANK_TEENCODE))


def bank_fold(text: str) -> str:
    """:func:`knowledge.text.fold` with the teencode table frozen when the split was recorded: what family keys, the
    split of unanswerable questions and the duplicate check compare, so that growing the live table
    (``nlu_components/teencode.tsv``) never moves a family or a question between train and test."""
    return fold(text, _bank_teencode())


def without_level(folded: str) -> str:
    """A folded name without its level phrase ("(thực hiện tại cấp tỉnh)", "cấp Bộ", "trung ương")."""
    return " ".join(LEVEL_PHRASES.sub(" ", folded).split())


def level_free_key(name: str) -> str:
    """A name's words without its level phrase and punctuation: level variants of one procedure share it (the
    portal writes some of them with and some without a final "." or with "xây dựng/ Báo cáo" for "xây dựng/Báo
    cáo")."""
    return " ".join(_WORD.findall(without_level(fold(name))))


def family_key(name: str) -> str:
    """The name with level phrases, operation words and trade direction removed: siblings share it."""
    text = bank_fold(name)
    text = without_level(text)
    text = _OPERATION_WORDS.sub(" ", text)
    return " ".join(_WORD.findall(text))


MIN_NESTED_WORDS = 4  # syllables: "đăng ký khai sinh"


@lru_cache(maxsize=8192)
def _name_words(name: str) -> tuple:
    """A name's folded words without its level phrase and the portal's "Thủ tục" prefix."""
    words = _WORD.findall(without_level(bank_fold(name)))
    return tuple(words[2:] if words[:2] == ["thu", "tuc"] else words)


def nested_names(first: str, second: str) -> bool:
    """One name is the other followed by a qualifier: "Đăng ký khai sinh" and "Đăng ký khai sinh cho người đã có
    hồ sơ, giấy tờ cá nhân", "Cấp giấy phép lái xe" and "... quốc tế" (the ordinary case and a special one). The
    shorter name has at least :data:`MIN_NESTED_WORDS` words ("Xóa đăng ký" is not a topic of its own)."""
    a, b = sorted((_name_words(first), _name_words(second)), key=len)
    return len(a) >= MIN_NESTED_WORDS and len(b) > len(a) and b[: len(a)] == a


def are_siblings(first, second) -> bool:
    """Two ranked procedures a narrowing question can tell apart: one family (level variants, operations,
    direction) or nested names (the ordinary case and a special one). ``first`` / ``second`` have ``kind``,
    ``family`` and ``name``."""
    if first.kind != "procedure" or second.kind != "procedure":
        return False
    return first.family == second.family or nested_names(first.name, second.name)


def _hash_share(text: str) -> float:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF


def compute_split(procedures: Sequence[tuple]) -> List[dict]:
    """``[(code, name), ...]`` -> split records; the family is the smallest code of a family key's group."""
    groups: Dict[str, List[str]] = defaultdict(list)
    for code, name in procedures:
        groups[family_key(name)].append(code)
    rows = []
    for key, codes in groups.items():
        family = min(codes)
        split = "test" if _hash_share("family:" + key) < TEST_SHARE else "train"
        rows += [{"code": code, "family": family, "split": split} for code in codes]
    return sorted(rows, key=lambda r: r["code"])


@dataclass(frozen=True)
class Question:
    """One bank question with its split (``test`` / ``train``) and family."""

    code: Optional[str]
    q: str
    style: str
    split: str
    family: Optional[str]
    source: str  # file name, for messages
    line: int
    topic: str = ""

    @property
    def answerable(self) -> bool:
        return self.code is not None


def questions_dir(knowledge_dir: Optional[Path] = None) -> Path:
    from knowledge import store

    return Path(knowledge_dir or store.data_dir()) / "questions"


def load_split(knowledge_dir: Optional[Path] = None) -> Dict[str, dict]:
    """``code -> {"code", "family", "split"}`` from ``split.jsonl`` (empty when there is no bank)."""
    path = questions_dir(knowledge_dir) / "split.jsonl"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as handle:
        return {r["code"]: r for r in (json.loads(line) for line in handle if line.strip())}


def unanswerable_split(text: str) -> str:
    return "test" if _hash_share("unanswerable:" + bank_fold(text)) < TEST_SHARE else "train"


def read_raw(knowledge_dir: Optional[Path] = None) -> Iterable[tuple]:
    """``(file name, line number, record or ValueError)`` for every line of the bank files."""
    root = questions_dir(knowledge_dir) / "bank"
    for path in sorted(root.glob("*.jsonl")) if root.exists() else []:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield path.name, number, json.loads(line)
                except ValueError as exc:
                    yield path.name, number, exc


def load_bank(knowledge_dir: Optional[Path] = None, splits: Sequence[str] = ("train", "test")) -> List[Question]:
    """Every valid question of the wanted splits (invalid lines are the validator's business)."""
    split = load_split(knowledge_dir)
    out: List[Question] = []
    for source, line, record in read_raw(knowledge_dir):
        if not isinstance(record, dict) or not isinstance(record.get("q"), str):
            continue
        code = record.get("code")
        if code is None:
            part, family = unanswerable_split(record["q"]), None
        elif code in split:
            part, family = split[code]["split"], split[code]["family"]
        else:
            continue
        if part in splits:
            out.append(Question(code, record["q"].strip(), record.get("style", ""), part, family, source, line,
                                record.get("topic", "")))
    return out


def word_set(text: str) -> frozenset:
    return frozenset(_WORD.findall(fold(text)))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_duplicates(questions: Sequence[Question]) -> List[tuple]:
    """Pairs of questions of one procedure whose word sets overlap more than :data:`NEAR_DUPLICATE_JACCARD`."""
    by_code: Dict[str, List[Question]] = defaultdict(list)
    for q in questions:
        if q.code:
            by_code[q.code].append(q)
    pairs = []
    for items in by_code.values():
        sets = [word_set(q.q) for q in items]
        for i in range(len(items)):
            for j in range(i):
                if jaccard(sets[i], sets[j]) > NEAR_DUPLICATE_JACCARD:
                    pairs.append((items[j], items[i]))
                    break
    return pairs


STRANGER_SETS = ("calibration", "test")
MIN_STRANGERS = {"calibration": 300, "test": 200}


def strangers_path(part: str, knowledge_dir: Optional[Path] = None) -> Path:
    """``questions/strangers/<part>.jsonl``: questions written apart from the bank (see the README there)."""
    return questions_dir(knowledge_dir) / "strangers" / f"{part}.jsonl"


def load_strangers(part: str, knowledge_dir: Optional[Path] = None) -> List[dict]:
    """The strangers' ``calibration`` or ``test`` set: ``{"id", "q", "style", "code", "expected", ["topic"]}``
    records ([] when the file is absent)."""
    path = strangers_path(part, knowledge_dir)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def strangers_problems(knowledge_dir: Optional[Path], codes: set, names: Dict[str, str], split: Dict[str, dict],
                       bank_keys: set) -> List[str]:
    """What is wrong with the strangers' sets: valid lines, ids unique, ``expected`` = the code and its level
    variants, calibration questions on train families only and test questions on test families only, no question
    that is also a bank question, at least :data:`MIN_STRANGERS` a set."""
    problems: List[str] = []
    by_key: Dict[str, set] = defaultdict(set)
    for code, name in names.items():
        by_key[level_free_key(name)].add(code)
    ids: set = set()
    for part in STRANGER_SETS:
        records = load_strangers(part, knowledge_dir)
        if len(records) < MIN_STRANGERS[part]:
            problems.append(f"strangers/{part}.jsonl: {len(records)} questions, fewer than {MIN_STRANGERS[part]}")
        for record in records:
            where = f"strangers/{part}.jsonl:{record.get('id')}"
            if record.get("id") in ids:
                problems.append(f"{where}: duplicate id")
            ids.add(record.get("id"))
            bare = {k: v for k, v in record.items() if k not in ("id", "expected")}
            problems += [f"{where}: {p}" for p in record_problems(bare, codes)]
            code = record.get("code")
            if bank_fold(record.get("q") or "") in bank_keys:
                problems.append(f"{where}: also a bank question")
            if code is None:
                if record.get("expected"):
                    problems.append(f"{where}: an unanswerable question expects nothing")
                continue
            if code not in codes:
                continue
            if sorted(record.get("expected") or []) != sorted(by_key[level_free_key(names[code])] | {code}):
                problems.append(f"{where}: expected must be {code} and its level variants")
            side = split.get(code, {}).get("split")
            if side != ("train" if part == "calibration" else "test"):
                problems.append(f"{where}: {code} is a {side} family")
    return problems


def common_codes(procedures: Sequence) -> set:
    """Procedures citizens and household businesses use most: they need :data:`MIN_QUESTIONS_COMMON` questions.

    Read from ``questions/common.txt`` (one code a line, a reviewable list)."""
    path = questions_dir() / "common.txt"
    if not path.exists():
        return set()
    codes = {line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()}
    return {c for c in codes if c}


def record_problems(record: object, codes: set) -> List[str]:
    """What is wrong with one bank line (``{"code", "q", "style"}``, or ``topic`` when ``code`` is null) given the
    procedure ``codes`` of the knowledge base; [] when it is a valid line. :func:`validate` checks every line with
    it, and the review queue's approved questions are checked with it before they are written."""
    if not isinstance(record, dict) or not isinstance(record.get("q"), str) or not record["q"].strip():
        return ['expected an object with a non-empty "q"']
    problems: List[str] = []
    code, style = record.get("code"), record.get("style")
    allowed = {"code", "q", "style"} | ({"topic"} if code is None else set())
    if set(record) - allowed:
        problems.append(f"unknown keys {sorted(set(record) - allowed)}")
    if code is not None and code not in codes:
        return problems + [f"unknown procedure code {code!r}"]
    if code is None and record.get("topic") not in UNANSWERABLE_TOPICS:
        problems.append(f"unanswerable question needs a topic in {UNANSWERABLE_TOPICS}")
    if style not in STYLES:
        problems.append(f"style {style!r} not in {STYLES}")
    return problems


def validate(knowledge_dir: Optional[Path] = None) -> dict:
    """Check the bank: codes exist, no duplicates, split recorded and respected, counts, style mix, near-dups.

    Returns ``{"problems": [...], "stats": {...}}``; no problems means valid.
    """
    from knowledge import store

    procedures = store.load_procedures(knowledge_dir)
    codes = {p.code for p in procedures}
    split = load_split(knowledge_dir)
    problems: List[str] = []
    expected_split = {r["code"]: r for r in compute_split([(p.code, p.name) for p in procedures])}
    if set(split) != codes:
        problems.append(f"split.jsonl covers {len(set(split) & codes)} of {len(codes)} procedures "
                        f"({len(set(split) - codes)} unknown codes)")
    families: Dict[str, set] = defaultdict(set)
    for code, row in split.items():
        families[row["family"]].add(row["split"])
        if code in expected_split and expected_split[code]["family"] != row["family"]:
            problems.append(f"split.jsonl: {code} is in family {row['family']}, the rule says "
                            f"{expected_split[code]['family']}")
    mixed = [f for f, parts in families.items() if len(parts) > 1]
    if mixed:
        problems.append(f"families split across train and test: {mixed[:5]}")
    seen: Dict[str, tuple] = {}
    questions: List[Question] = []
    for source, line, record in read_raw(knowledge_dir):
        where = f"{source}:{line}"
        if isinstance(record, ValueError):
            problems.append(f"{where}: not JSON ({record})")
            continue
        found = record_problems(record, codes)
        problems += [f"{where}: {problem}" for problem in found]
        if found and (not isinstance(record, dict) or not isinstance(record.get("q"), str)
                      or not record["q"].strip() or record.get("code") not in codes | {None}):
            continue
        code, style = record.get("code"), record.get("style")
        key = bank_fold(record["q"])
        if key in seen:
            problems.append(f"{where}: duplicate of {seen[key][0]}:{seen[key][1]}")
            continue
        seen[key] = (source, line)
        part = unanswerable_split(record["q"]) if code is None else split.get(code, {}).get("split", "train")
        family = None if code is None else split.get(code, {}).get("family")
        questions.append(Question(code, record["q"], style, part, family, source, line, record.get("topic", "")))
    answerable = [q for q in questions if q.code]
    per_code = Counter(q.code for q in answerable)
    common = common_codes(procedures)
    few = sorted(c for c in codes if per_code.get(c, 0) < (MIN_QUESTIONS_COMMON if c in common else MIN_QUESTIONS))
    if few:
        problems.append(f"{len(few)} procedures below their minimum number of questions, e.g. {few[:5]}")
    unanswerable = [q for q in questions if not q.code]
    if len(unanswerable) < MIN_UNANSWERABLE:
        problems.append(f"{len(unanswerable)} unanswerable questions, fewer than {MIN_UNANSWERABLE}")
    styles = Counter(q.style for q in answerable)
    for style, share in MIN_STYLE_SHARE.items():
        have = styles.get(style, 0) / max(len(answerable), 1)
        if have < share:
            problems.append(f"style {style}: {have:.3f} of answerable questions, below {share}")
    dups = near_duplicates(answerable)
    dup_share = len(dups) / max(len(answerable), 1)
    if dup_share >= MAX_NEAR_DUPLICATE_SHARE:
        problems.append(f"near-duplicates within a procedure: {dup_share:.3f} of questions "
                        f"(limit {MAX_NEAR_DUPLICATE_SHARE})")
    problems += strangers_problems(knowledge_dir, codes, {p.code: p.name for p in procedures}, split, set(seen))
    test_codes = sum(1 for r in split.values() if r["split"] == "test")
    stats = {
        "strangers": {part: len(load_strangers(part, knowledge_dir)) for part in STRANGER_SETS},
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "procedures_covered": len(per_code),
        "procedures": len(codes),
        "common_procedures": len(common),
        "families": len(families),
        "test_procedures": test_codes,
        "test_share_procedures": round(test_codes / max(len(split), 1), 3),
        "by_split": dict(Counter(q.split for q in questions)),
        "styles": dict(sorted(styles.items())),
        "near_duplicate_share": round(dup_share, 4),
    }
    return {"problems": problems, "stats": stats}
