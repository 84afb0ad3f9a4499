"""Joined ("liên thông") procedures: one application that covers several procedures at once.

The portal publishes a few procedures whose name lists the procedures they join ("Liên thông thủ tục hành chính
về đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi"). A citizen who asks
about two or more of those procedures together ("làm khai sinh với nhập khẩu cho con luôn") should get the joined
procedure, not one of its parts. The parts are read from the names, so a joined procedure added to the knowledge
base is picked up without a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Optional, Sequence

from knowledge.text import fold

# Words that every part shares or that only qualify it; what is left names the part ("khai sinh", "thường trú").
_GENERIC = frozenset(
    "thu tuc hanh chinh cac ve dang ky cap the giay cho tre em duoi tuoi nguoi va doi voi".split()
)
# Words a question uses to ask about several things at once.
_JOINING = re.compile(r"(?<!\w)(va|voi|cung|cung luc|luon|kem|kem theo|dong thoi|lan|ca|mot lan|lien thong|"
                      r"chung|tiep|roi|xong|and|together|\+|&)(?!\w)")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class JoinedProcedure:
    """A joined procedure and the key words of each of its parts."""

    code: str
    name: str
    parts: tuple  # of FrozenSet[str]


def parts_of(name: str) -> List[FrozenSet[str]]:
    """The key words of each procedure a joined procedure's name lists ("... về A, B và C cho ...")."""
    folded = fold(name)
    head, _, tail = folded.partition(" ve ")
    listed = tail or head.replace("lien thong", "", 1)
    parts = []
    for piece in re.split(r",|;|\bva\b", listed):
        words = frozenset(w for w in _WORD.findall(piece) if w not in _GENERIC and not w.isdigit())
        if words:
            parts.append(words)
    return parts


def joined_procedures(procedures: Iterable) -> List[JoinedProcedure]:
    """The joined procedures among ``procedures`` (name starting with "Liên thông") with at least two parts."""
    found = []
    for proc in procedures:
        if fold(proc.name).startswith("lien thong"):
            parts = parts_of(proc.name)
            if len(parts) >= 2:
                found.append(JoinedProcedure(proc.code, proc.name, tuple(parts)))
    return found


def asked_parts(joined: JoinedProcedure, texts: Sequence[str]) -> int:
    """How many parts of ``joined`` a question names (all key words of a part, in any of ``texts``: the
    question and its rewriting by the search's synonym table)."""
    words = set()
    for text in texts:
        words |= set(_WORD.findall(fold(text)))
    return sum(1 for part in joined.parts if part <= words)


def best_joined(joined: Sequence[JoinedProcedure], texts: Sequence[str]) -> Optional[JoinedProcedure]:
    """The joined procedure a question asks for: it names two parts or more of it and joins them with a word
    such as "và", "luôn", "cùng lúc"; among several, the one with most parts named and fewest left out."""
    if not any(_JOINING.search(fold(text)) for text in texts):
        return None
    scored = []
    for item in joined:
        named = asked_parts(item, texts)
        if named >= 2:
            scored.append((named, -(len(item.parts) - named), item.code, item))
    return max(scored)[3] if scored else None
