"""Sibling-contrast attributes read from procedure names and from questions (``knowledge/data/contrasts.yml``).

Siblings differ by one attribute: direction (nhập / xuất khẩu), subject (cá nhân / tổ chức / hộ kinh doanh),
foreign element, level (trung ương / tỉnh / huyện / xã), age (dưới 14 tuổi / từ đủ 14 tuổi). For every group the
searcher gives the learned ranker four numbers per candidate: the question names a value of the group, the candidate
has one, they share a value, they conflict (both named, none shared).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

from knowledge.text import fold

CONTRASTS_FILE = "contrasts.yml"  # in the knowledge base folder (KB_DIR, knowledge.store.data_dir)
PER_GROUP = ("q_has", "c_has", "match", "conflict")


_RANGE = re.compile(r"\{(\d+)-(\d+)\}")


def expand_ranges(phrase: str) -> List[str]:
    """A phrase with a number range written ``{lo-hi}`` as one phrase per number: ``"{0-2} tuổi"`` →
    ``["0 tuổi", "1 tuổi", "2 tuổi"]``; other phrases as they are."""
    match = _RANGE.search(phrase)
    if not match:
        return [phrase]
    lo, hi = int(match.group(1)), int(match.group(2))
    head, tail = phrase[: match.start()], phrase[match.end():]
    return [p for n in range(lo, hi + 1) for p in expand_ranges(head + str(n) + tail)]


def _alternation(phrases: Sequence[str]) -> re.Pattern:
    folded = sorted({fold(p) for p in phrases if p.strip()}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in folded) + r")\b")


class _PhraseReader:
    """The values a text says in one group: its phrases matched leftmost-longest, so a phrase inside a longer one of
    another value does not count ("14 tuổi" inside "dưới 14 tuổi", "trung ương" inside "thành phố trực thuộc
    trung ương")."""

    def __init__(self, phrases_by_value: Dict[str, Sequence[str]]) -> None:
        self.values_of: Dict[str, set] = {}
        for value, phrases in phrases_by_value.items():
            for phrase in phrases:
                if phrase.strip():
                    self.values_of.setdefault(fold(phrase), set()).add(value)
        self.pattern = _alternation(list(self.values_of)) if self.values_of else None

    def matches(self, folded: str) -> List[Tuple[int, str]]:
        """``(start, value)`` of every phrase found, leftmost-longest."""
        if self.pattern is None:
            return []
        return [(m.start(), v) for m in self.pattern.finditer(folded) for v in sorted(self.values_of[m.group(0)])]

    def read(self, folded: str) -> FrozenSet[str]:
        return frozenset(v for _, v in self.matches(folded))


class ContrastTable:
    """The groups and values of ``contrasts.yml`` as compiled patterns."""

    def __init__(self, data: dict) -> None:
        """``data`` is the parsed YAML (``{"groups": {group: {"values": {...}, "strip": [...]}}}``)."""
        self.groups: List[str] = []
        self.values: Dict[str, List[str]] = {}
        self.asked_by: Dict[str, Dict[str, re.Pattern]] = {}  # per value: what picks it in a typed reply
        self.strip: Dict[str, re.Pattern] = {}
        self._readers: Dict[str, Dict[str, _PhraseReader]] = {"in_name": {}, "asked_by": {}}
        for group, spec in (data.get("groups") or {}).items():
            self.groups.append(group)
            self.values[group] = list(spec["values"])
            for kind in ("in_name", "asked_by"):
                phrases = {v: [p for phrase in s[kind] for p in expand_ranges(phrase)]
                           for v, s in spec["values"].items()}
                self._readers[kind][group] = _PhraseReader(phrases)
                if kind == "asked_by":
                    self.asked_by[group] = {v: _alternation(ps) for v, ps in phrases.items()}
            if spec.get("strip"):
                self.strip[group] = _alternation(spec["strip"])

    @classmethod
    def from_file(cls, path: Optional[Path] = None) -> "ContrastTable":
        import yaml

        from knowledge.store import data_dir

        path = path or data_dir() / CONTRASTS_FILE
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    @property
    def feature_names(self) -> List[str]:
        return [f"{g}_{part}" for g in self.groups for part in PER_GROUP]

    def _values(self, folded: str, kind: str) -> Dict[str, FrozenSet[str]]:
        out = {}
        for group in self.groups:
            text = self.strip[group].sub(" ", folded) if group in self.strip else folded
            out[group] = self._readers[kind][group].read(text)
        return out

    def asked_matches(self, folded_question: str, group: str) -> List[Tuple[int, str]]:
        """``(start, value)`` of each phrase of ``group`` a (folded) question says, leftmost-longest: where it says
        it, for a reader that checks what comes before (a denial)."""
        text = self.strip[group].sub(lambda m: " " * len(m.group(0)), folded_question) if group in self.strip \
            else folded_question
        return self._readers["asked_by"][group].matches(text)

    def name_values(self, name: str) -> Dict[str, FrozenSet[str]]:
        """Values a procedure name carries, per group."""
        return self._values(fold(name), "in_name")

    def asked_values(self, folded_question: str) -> Dict[str, FrozenSet[str]]:
        """Values a (folded) question asks for, per group."""
        return self._values(folded_question, "asked_by")

    def entry_matrix(self, names: Sequence[str]) -> Dict[str, np.ndarray]:
        """Per group, a bool matrix entries x values."""
        out = {g: np.zeros((len(names), len(self.values[g])), dtype=bool) for g in self.groups}
        for i, name in enumerate(names):
            for group, values in self.name_values(name).items():
                for v in values:
                    out[group][i, self.values[group].index(v)] = True
        return out

    def features(self, asked: Dict[str, FrozenSet[str]], entry_values: Dict[str, np.ndarray]) -> np.ndarray:
        """``len(candidates) x (4 * groups)`` features for candidates whose value rows are ``entry_values``."""
        columns = []
        for group in self.groups:
            rows = entry_values[group]
            q = np.array([v in asked[group] for v in self.values[group]], dtype=bool)
            c_has = rows.any(axis=1)
            match = (rows & q[None, :]).any(axis=1)
            q_has = np.full(len(rows), bool(q.any()))
            columns += [q_has, c_has, match, q_has & c_has & ~match]
        return np.stack(columns, axis=1).astype(np.float64) if columns else np.zeros((0, 0))


@lru_cache(maxsize=1)
def get_contrasts() -> ContrastTable:
    """The shipped table (loaded once)."""
    return ContrastTable.from_file()
