"""Questions about several procedures at once, when no joined ("liên thông") procedure covers them.

"Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?" names two procedures. Searched as one question it
matches neither well enough to answer; searched piece by piece ("đăng ký kết hôn", "làm hộ chiếu luôn thì cần
gì") each piece is answered with confidence. The bot then gives each procedure briefly instead of a list of
guesses. Only used when the whole question gets no answer, and only when at least two pieces get a confident
decision for different families: otherwise the usual suggestions.
"""

from __future__ import annotations

import re
from typing import Callable, List

from knowledge.text import content_words

# Words that join two requests in one message ("A và B", "A rồi B", "A with B").
_JOINER_WORDS = (r"\b(?:và|va|với|voi|cùng với|cung voi|rồi|roi|sau đó|sau do|đồng thời|dong thoi|kèm|kem|"
                 r"luôn cả|luon ca|and|as well as)\b")
_JOINERS = re.compile(r"\s*,?\s*" + _JOINER_WORDS + r"\s*", re.IGNORECASE)
# In a short message a comma joins requests too ("cấp đổi gplx, đăng ký xe máy mới"); in a longer one it separates
# the clauses of one story ("chồng em là Việt kiều, sắp hết hạn tạm trú, gia hạn ở đâu"), each of which the search
# could match to a procedure of its own.
_LIST_JOINERS = re.compile(r"\s*(?:[,;]|" + _JOINER_WORDS + r")\s*", re.IGNORECASE)
MAX_LIST_WORDS = 16
MIN_WORDS = 2  # topic words a piece needs to be searched on its own ("hộ chiếu", "kết hôn")
MAX_PIECES = 3
CONFIDENT = ("answer", "clarify")  # the search's decisions that name a procedure (or its siblings) for a piece


def pieces(text: str) -> List[str]:
    """The requests a message joins, each with at least :data:`MIN_WORDS` topic words; [] for one request."""
    joiners = _LIST_JOINERS if len(text.split()) <= MAX_LIST_WORDS else _JOINERS
    parts = [p.strip(" .?!,;") for p in joiners.split(text)]
    kept = [p for p in parts if len(content_words(p)) >= MIN_WORDS]
    return kept if 2 <= len(kept) <= MAX_PIECES else []


def several_procedures(text: str, search: Callable) -> List:
    """The top hit of each piece of ``text`` that the search answers or narrows to siblings (``answer`` /
    ``clarify``), when at least two pieces do and they name different families; otherwise []. A piece that names
    no procedure with confidence ("Tôi bị mất ví", "Tôi ở Bắc Ninh") is left out. ``search(text)`` returns a
    ``knowledge.search.SearchResponse``."""
    found = []
    families = set()
    for piece in pieces(text):
        response = search(piece)
        if response.decision not in CONFIDENT or not response.results:
            continue
        top = response.results[0]
        family = top.family or top.code
        if top.kind != "procedure" or family in families:
            return []  # the same procedure twice: one request said twice, not several
        families.add(family)
        found.append(top)
    return found if len(found) >= 2 else []
