"""Text processing shared by indexing and querying: folding, lexical tokens, question stripping."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable, List

from nlu_components.normalize import expand_teencode, fold_diacritics

_WORD = re.compile(r"\w+", re.UNICODE)

# Words and phrases that say WHAT the citizen wants to know (aspect) or are politeness/filler. They are
# removed before lexical matching so that "cần giấy tờ gì" does not match every procedure that mentions
# documents, and so a message made only of them can be recognised as a follow-up question.
_QUESTION_PHRASES = [
    # aspects
    "can nhung giay to gi", "can giay to gi", "giay to gi", "nhung giay to", "giay to", "ho so gom", "ho so",
    "thanh phan", "can gi", "can nhung gi", "can mang", "mang theo", "chuan bi",
    "le phi", "phi", "bao nhieu tien", "bao nhieu", "het bao nhieu", "mat bao nhieu", "ton bao nhieu", "chi phi",
    "co mat phi", "mat phi", "mien phi", "mat bao lau", "mat may ngay", "bao lau", "thoi gian", "thoi han",
    "may ngay", "bao nhieu ngay", "lau khong", "nop o dau", "o dau", "cho nao", "dia chi", "noi nop",
    "truc tuyen", "online", "qua mang", "nop qua mang", "tren mang", "co quan nao", "ai giai quyet", "cac buoc",
    "trinh tu", "quy trinh", "nhu the nao", "the nao", "ra sao", "cach thuc", "can cu phap ly", "can cu",
    "van ban phap ly", "luat nao", "dieu kien gi", "dieu kien", "ket qua", "nhan duoc gi",
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


def fold(text: str) -> str:
    """Lowercase, expand teencode, strip diacritics: the form every lexical comparison uses."""
    return " ".join(fold_diacritics(expand_teencode(nfc(text).lower())).split())


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


def unique(items: Iterable[str]) -> List[str]:
    """Items in first-seen order without repeats."""
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
