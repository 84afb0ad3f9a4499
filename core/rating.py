"""Satisfaction ratings: the 1–5 score a citizen gives when a conversation ends, and their summary.

The score arrives as a button payload (``/rate{"rating":"4"}``), as a bare number ("4", "4 sao", "5 điểm") or as
words ("rất hài lòng"). Ratings are stored under a hash of the sender id, never the id itself, so the analytics
table holds no personal data.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable

from core.db import Database, as_datetime, now_vn, shared_database
from knowledge.text import fold

log = logging.getLogger(__name__)

MIN_RATING, MAX_RATING = 1, 5

# Folded (no diacritics, lower case) phrases, longest first so "rat khong hai long" wins over "hai long".
_WORD_SCORES: tuple[tuple[str, int], ...] = (
    ("rat khong hai long", 1), ("hoan toan khong hai long", 1), ("qua te", 1), ("rat te", 1),
    ("khong hai long", 2), ("chua hai long", 2), ("te", 2), ("kem", 2),
    ("binh thuong", 3), ("tam duoc", 3), ("tam on", 3), ("trung binh", 3),
    ("rat hai long", 5), ("tuyet voi", 5), ("rat tot", 5), ("xuat sac", 5),
    ("hai long", 4), ("tot", 4), ("on", 4),
)
_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5}
# A lone digit 1-5, optionally with a unit ("4 sao", "5 điểm", "4/5"); longer numbers are not ratings.
_DIGIT_RE = re.compile(r"(?<![\d.,/])([1-5])(?:\s*/\s*5)?(?:\s*(?:sao|diem|d))?(?![\d.,])")
_UNIT_WORD_RE = re.compile(r"\b(mot|hai|ba|bon|tu|nam)\s+(?:sao|diem)\b")


def parse_rating(value: Any) -> int | None:
    """The 1–5 score in ``value`` (an entity value or the citizen's message), or None when there is none.

    >>> parse_rating("5 sao"), parse_rating("rất hài lòng"), parse_rating("không hài lòng lắm"), parse_rating("0912")
    (5, 5, 2, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if MIN_RATING <= value <= MAX_RATING and float(value).is_integer() else None
    text = fold(str(value)).strip()
    if not text or len(text) > 80:
        return None
    digits = _DIGIT_RE.findall(text)
    if len(digits) == 1 and not re.search(r"\d{2,}", text):
        return int(digits[0])
    match = _UNIT_WORD_RE.search(text)
    if match:
        return _NUMBER_WORDS[match.group(1)]
    padded = f" {' '.join(re.findall(r'[a-z]+', text))} "
    for phrase, score in _WORD_SCORES:
        if f" {phrase} " in padded:
            return score
    return None


# Words a message that only gives a rating holds besides its score (folded): "tôi chấm 5 sao nhé", "rất hài lòng ạ".
_RATING_FILLERS = frozenset(
    "toi minh em tui cho cham danh gia diem sao d nhe nha nhen a ah thoi la roi voi ban bot tro ly dich vu lam qua"
    " cung".split())
_RATING_VOCABULARY = (_RATING_FILLERS | frozenset(_NUMBER_WORDS)
                      | frozenset(word for phrase, _ in _WORD_SCORES for word in phrase.split()))


def is_rating_message(value: Any) -> bool:
    """Whether the whole message is a rating: a score (:func:`parse_rating`) and nothing but rating words.

    "Đăng ký đại lý đổi ngoại tệ" holds a score word ("tệ") but is a procedure question, not a 2/5.

    >>> is_rating_message("tôi chấm 5 sao nhé"), is_rating_message("rất hài lòng"), is_rating_message("đại lý ngoại tệ")
    (True, True, False)
    """
    if parse_rating(value) is None:
        return False
    if not isinstance(value, str):
        return True
    return all(word in _RATING_VOCABULARY for word in re.findall(r"[a-z]+", fold(value)))


def sender_key(sender_id: str) -> str:
    """A stable, non-reversible key for one sender (16 hex characters)."""
    return hashlib.sha256(f"rating:{sender_id}".encode("utf-8")).hexdigest()[:16]


class RatingError(ValueError):
    """A rating outside 1–5."""


class RatingStore:
    """Satisfaction ratings in the services database (SQLite by default, PostgreSQL with DATABASE_URL)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    def record(self, sender_id: str, channel: str, rating: int) -> None:
        """Store one rating; committed before it returns (the thank-you is sent only after)."""
        if not isinstance(rating, int) or not MIN_RATING <= rating <= MAX_RATING:
            raise RatingError(f"rating must be {MIN_RATING}-{MAX_RATING}, got {rating!r}")
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO satisfaction_ratings (sender_key, channel, rating, created_at) "
                         "VALUES (?, ?, ?, ?)", (sender_key(sender_id), channel or "rest", rating, self.clock()))
        log.info("satisfaction rating %d stored (channel %s)", rating, channel)

    def summary(self, day_keys: list[str]) -> dict:
        """Count, average, distribution and per-day averages of the ratings given on ``day_keys`` (ISO dates)."""
        if not day_keys:
            return {"count": 0, "average": None, "distribution": {}, "per_day": []}
        start = datetime.fromisoformat(day_keys[0]).replace(tzinfo=self.clock().tzinfo)
        with self.db.read() as conn:
            rows = conn.all("SELECT rating, created_at FROM satisfaction_ratings WHERE created_at >= ?",
                            (start - timedelta(days=1),))
        wanted = set(day_keys)
        tz = self.clock().tzinfo
        picked = []
        for row in rows:
            at = as_datetime(row["created_at"])
            day = at.astimezone(tz).date().isoformat() if at else None
            if day in wanted:
                picked.append((day, int(row["rating"])))
        scores = [score for _, score in picked]
        by_day: dict[str, list[int]] = {}
        for day, score in picked:
            by_day.setdefault(day, []).append(score)
        distribution = Counter(scores)
        return {
            "count": len(scores),
            "average": round(sum(scores) / len(scores), 2) if scores else None,
            "distribution": {str(s): distribution.get(s, 0) for s in range(MIN_RATING, MAX_RATING + 1)},
            "per_day": [{"day": d, "count": len(by_day.get(d, [])),
                         "average": round(sum(by_day[d]) / len(by_day[d]), 2) if by_day.get(d) else None}
                        for d in day_keys],
        }


def rating_store_from_settings(settings: Any) -> RatingStore:
    """The rating store on the services database (DATABASE_URL or SERVICES_DB)."""
    return RatingStore(shared_database(settings))
