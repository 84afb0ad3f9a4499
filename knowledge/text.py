"""Text processing shared by indexing and querying: folding, lexical tokens, question stripping."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Tuple

from nlu_components.normalize import expand_teencode, fold_diacritics

_WORD = re.compile(r"\w+", re.UNICODE)

# Words and phrases that say WHAT the citizen wants to know (aspect) or are politeness/filler. They are
# removed before lexical matching so that "cần giấy tờ gì" does not match every procedure that mentions
# documents, and so a message made only of them can be recognised as a follow-up question.
#
# ASPECT_PHRASES is the one list of Vietnamese aspect keywords (folded): the search strips them, and
# core/language.py names the aspect a question asks about from them when the NLU missed the aspect entity. The
# order of the aspects is the order core.language tries them.
ASPECT_PHRASES: Dict[str, Tuple[str, ...]] = {
    "documents": ("can nhung giay to gi", "can giay to gi", "giay to gi", "nhung giay to", "giay to", "ho so gom",
                  "thanh phan ho so", "can gi", "can nhung gi", "can mang", "mang theo", "chuan bi gi"),
    "fee": ("le phi", "phi", "bao nhieu tien", "het bao nhieu", "ton bao nhieu", "chi phi", "co mat phi", "mat phi",
            "mien phi"),
    "duration": ("mat bao lau", "mat may ngay", "bao lau", "thoi gian", "thoi han", "may ngay", "bao nhieu ngay"),
    "online": ("truc tuyen", "online", "qua mang", "nop qua mang", "tren mang"),
    "place": ("nop o dau", "nop tai dau", "o dau", "cho nao", "dia chi", "noi nop"),
    "agency": ("co quan nao", "ai giai quyet", "ai cap"),
    "steps": ("cac buoc", "trinh tu", "quy trinh"),
    "legal_basis": ("can cu phap ly", "can cu", "van ban phap ly", "luat nao", "nghi dinh nao", "van ban nao"),
    "conditions": ("dieu kien gi", "dieu kien", "yeu cau gi"),
    "result": ("ket qua", "nhan duoc gi"),
}
# Question words that do not say which aspect on their own ("hồ sơ", "bao nhiêu", "chuẩn bị", "như thế nào"):
# stripped by the search, named as no aspect ("mất bao nhiêu ngày" asks for the duration, not the fee; "chuẩn bị
# giải thể" is no question about documents).
_ASPECT_NEUTRAL = ["ho so", "thanh phan", "chuan bi", "bao nhieu", "mat bao nhieu", "lau khong", "nhu the nao",
                   "the nao", "ra sao", "cach thuc"]
_QUESTION_PHRASES = [
    *(phrase for phrases in ASPECT_PHRASES.values() for phrase in phrases),
    *_ASPECT_NEUTRAL,
    # filler (single syllables only where the folded form is not also a topic word: "can" may be "căn",
    # "co" may be "cơ"/"cổ", "do" may be "đỏ", "the" may be "thẻ", "ma" may be "mã", "thi" may be "thi hành",
    # "tien" may be "tiền")
    "cho toi hoi", "cho em hoi", "cho minh hoi", "xin hoi", "toi muon", "em muon", "minh muon", "toi can",
    "toi phai", "em can", "minh can", "lam sao", "lam the nao", "can phai", "thu tuc", "duoc khong", "co duoc",
    "co the", "thi sao", "hoi", "a", "ah", "nhi", "nhe", "khong", "duoc", "gi", "nao", "la", "va", "voi", "cua",
    "cho", "o", "nhung", "cac", "mot", "phai", "neu",
    "what", "how", "much", "long", "where", "which", "need", "documents", "fee", "does", "it", "take",
]
_PHRASE_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(set(_QUESTION_PHRASES), key=len, reverse=True)) + r")\b"
)


def nfc(text: str) -> str:
    """NFC-normalise and collapse whitespace (NFD Vietnamese breaks tokenizers and matching)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def fold(text: str, teencode: Optional[Dict[str, str]] = None) -> str:
    """Lowercase, expand teencode (``teencode``: another table than the live one), strip diacritics: the form every
    lexical comparison uses."""
    return " ".join(fold_diacritics(expand_teencode(nfc(text).lower(), teencode)).split())


def syllables(text: str) -> List[str]:
    """Folded syllables (words) of a text."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=1)
def _word_tokenize():
    from underthesea import word_tokenize  # heavy: imported on first use only

    return word_tokenize


def lexical_tokens(text: str) -> List[str]:
    """Tokens for BM25: folded syllables plus folded underthesea compounds (``khai_sinh``).

    Indexing both the syllables and the compounds keeps queries typed without diacritics (which underthesea
    segments differently) matching, while a correct compound still earns the extra, rarer token.
    """
    text = nfc(text)
    tokens = syllables(text)
    for word in _word_tokenize()(text):
        if " " in word:
            compound = "_".join(_WORD.findall(fold(word)))
            if compound:
                tokens.append(compound)
    return tokens


def strip_question(text: str) -> str:
    """The folded topic words of a question, with aspect words and filler removed."""
    folded = " ".join(syllables(text))
    return " ".join(_PHRASE_RE.sub(" ", folded).split())


def content_words(text: str) -> List[str]:
    """Folded topic words left after :func:`strip_question`."""
    return strip_question(text).split()


def wording_key(question: str) -> str:
    """What two wordings of one question share: the folded topic words, sorted, each once, without masked personal
    data or other numbers ("... cần giấy tờ gì 091*******" and "... cần giấy tờ gì 0912345678" share it). The
    review queue groups questions by it; the search answers an approved question's wording by it."""
    words = sorted({w for w in content_words(question) if not any(ch.isdigit() or ch == "*" for ch in w)})
    return " ".join(words or fold(question).split())


def unique(items: Iterable[str]) -> List[str]:
    """Items in first-seen order without repeats."""
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
