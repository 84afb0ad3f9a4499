"""Approved review links as question-bank lines, in a runtime file the running servers may write (never the
repository's bank under ``knowledge/data/questions/``).

Each line is a bank line (``{"code", "q", "style"}``, checked by :func:`knowledge.bank.record_problems`, the bank
validator's own per-line check) plus who approved it and when (``approved_by``, ``approved_at``). :func:`export`
gives the bank lines alone, a file to review and commit under ``knowledge/data/questions/bank/``.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

from knowledge.accents import has_diacritics
from knowledge.live_bank import PROVENANCE_KEYS

SHORT_WORDS = 4


class ApprovedQuestionError(ValueError):
    """An approved question that is not a valid bank line."""


def question_style(question: str) -> str:
    """The bank style of a citizen's question: typed without diacritics, short (a few words), or a story."""
    if not has_diacritics(question):
        return "no_diacritics"
    return "short" if len(question.split()) <= SHORT_WORDS else "story"


def bank_line(code: str, question: str) -> dict:
    """The bank line of ``question`` linked to the procedure ``code``."""
    return {"code": code, "q": question.strip(), "style": question_style(question)}


class ApprovedQuestions:
    """The runtime file of approved questions (``REVIEW_APPROVED_FILE``), appended one line per approval."""

    def __init__(self, path: Path, codes: Callable[[], Iterable[str]]) -> None:
        """``codes()``: the procedure codes of the knowledge base (read on first use; a line naming another code
        is refused)."""
        self.path = Path(path)
        self._codes = codes
        self._known: set | None = None
        self._lock = threading.Lock()

    @property
    def codes(self) -> set:
        """The procedure codes a line may name."""
        if self._known is None:
            self._known = set(self._codes())
        return self._known

    def append(self, code: str, question: str, staff: str, at: datetime) -> dict:
        """Validate and append one approved question; the line written (flushed and synced before returning)."""
        from knowledge.bank import record_problems

        line = bank_line(code, question)
        problems = record_problems(line, self.codes)
        if problems:
            raise ApprovedQuestionError("; ".join(problems))
        record = {**line, "approved_by": staff, "approved_at": at.isoformat()}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return record

    def records(self) -> Iterator[dict]:
        """Every line of the file (none when it does not exist yet)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for text in handle:
                if text.strip():
                    yield json.loads(text)

    def export(self) -> Iterator[dict]:
        """The approved questions as bank lines (provenance dropped), each once, in approval order."""
        seen: set = set()
        for record in self.records():
            line = {k: v for k, v in record.items() if k not in PROVENANCE_KEYS}
            key = (line.get("code"), line.get("q"))
            if key not in seen:
                seen.add(key)
                yield line
