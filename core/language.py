"""Recognising English questions (foreign investors and workers) and their aspect."""

from __future__ import annotations

import re
from typing import List

from knowledge.text import ASPECT_PHRASES, fold

_ASPECT_PATTERNS = [
    ("documents", r"\b(documents?|papers?|paperwork|what (do i|to) (need|bring|prepare)|required)\b"),
    ("fee", r"\b(fees?|cost|costs|price|how much|charge|pay)\b"),
    ("duration", r"\b(how long|processing time|days|how many days|time does it take|takes?)\b"),
    ("online", r"\b(online|internet|portal|electronically)\b"),
    ("place", r"\b(where|which office|address|submit at)\b"),
    ("agency", r"\b(which (agency|authority)|agency|authority)\b"),
    ("steps", r"\b(steps?|process|how (do|can|to) i|how to)\b"),
    ("legal_basis", r"\b(legal basis|law|decree|regulations?)\b"),
    ("conditions", r"\b(conditions?|eligib\w*|requirements?)\b"),
]


# Vietnamese aspect keywords on folded text (diacritics stripped), for when the NLU misses the aspect entity: the
# search's own list (knowledge.text.ASPECT_PHRASES), longest phrase first within an aspect.
_VI_ASPECT_PATTERNS = [
    (aspect, r"\b(" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")\b")
    for aspect, phrases in ASPECT_PHRASES.items()
]


def detect_language(text: str) -> str:
    """'en' for an English question, else 'vi' (also for Vietnamese typed without diacritics).

    Same rule as the knowledge search uses to translate English questions (knowledge/rewrite.py), so the answer
    language and the retrieval agree.
    """
    from knowledge.rewrite import get_rewriter  # small tables; loaded once

    return "en" if get_rewriter().is_english(text or "") else "vi"


def _aspects_in(text: str, patterns) -> List[str]:
    """Every aspect whose pattern matches ``text``, in the order the question names them."""
    found = []
    for aspect, pattern in patterns:
        match = re.search(pattern, text or "")
        if match:
            found.append((match.start(), aspect))
    return [aspect for _, aspect in sorted(found)]


def vietnamese_aspects(folded_text: str) -> List[str]:
    """All aspects a (folded) Vietnamese question asks about ("phí bao nhiêu, mất mấy ngày" -> fee, duration)."""
    return _aspects_in(folded_text, _VI_ASPECT_PATTERNS)


def english_aspects(text: str) -> List[str]:
    """All aspects an English question asks about, in the order it names them."""
    return _aspects_in((text or "").lower(), _ASPECT_PATTERNS)


def question_aspects(text: str, lang: str) -> List[str]:
    """All aspects a question in ``lang`` ("en" or "vi", see :func:`detect_language`) asks about, in the order it
    names them; a Vietnamese one is matched without its diacritics."""
    return english_aspects(text) if lang == "en" else vietnamese_aspects(fold(text or ""))
