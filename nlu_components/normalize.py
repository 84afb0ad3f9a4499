"""Dependency-free Vietnamese text normalisation helpers.

Used by the Rasa tokenizer (``vi_tokenizer``) and by the knowledge search in the actions
server, so this module must only use the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

TEENCODE_PATH = Path(__file__).with_name("teencode.tsv")

# D-with-stroke look-alikes users paste from other keyboards/encodings: Đ, Ð (Icelandic Eth), Ɖ (African D).
_D_VARIANTS = {
    "đ": "d",
    "Đ": "D",
    "Ð": "D",
    "ð": "d",
    "Ɖ": "D",
    "ɖ": "d",
}

# A "word" is a run of letters/digits; combining marks are included so NFD text is not split mid-word.
WORD_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")


def _fold_char(char: str) -> str:
    """Fold one character: strip combining marks and map D-with-stroke variants to plain d."""
    if char in _D_VARIANTS:
        return _D_VARIANTS[char]
    if ord(char) < 128:
        return char
    decomposed = unicodedata.normalize("NFD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics (tone and vowel marks) and map đ/Đ/Ð to d/D.

    Case is preserved. Works for both composed (NFC) and decomposed (NFD) input.

    >>> fold_diacritics("Đăng ký khai sinh")
    'Dang ky khai sinh'
    """
    return "".join(_fold_char(c) for c in text)


def fold_with_offsets(text: str, lowercase: bool = True) -> tuple[str, list[int]]:
    """Fold ``text`` (and optionally lowercase it) keeping a map back to original offsets.

    Returns ``(folded, offsets)`` where ``offsets[i]`` is the index in ``text`` of the character
    that produced ``folded[i]``. Standalone combining marks (NFD input) produce no output.
    """
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char.lower() if lowercase else char)
        for piece in folded:
            out.append(piece)
            offsets.append(index)
    return "".join(out), offsets


def match_key(text: str) -> str:
    """Comparable key for a word or phrase: NFC, lowercase, diacritics folded, spaces collapsed."""
    return " ".join(fold_diacritics(unicodedata.normalize("NFC", text).lower()).split())


@lru_cache(maxsize=1)
def _default_teencode() -> dict[str, str]:
    return _read_teencode(TEENCODE_PATH)


def load_teencode(path: str | None = None) -> dict[str, str]:
    """Load the teencode/abbreviation table (``key<TAB>expansion`` lines, ``#`` comments).

    Keys are lowercase NFC forms; expansions are lowercase Vietnamese with diacritics. Without ``path``
    the packaged ``teencode.tsv`` is used (read once and cached; do not mutate the result).
    """
    return _default_teencode() if path is None else _read_teencode(Path(path))


def _read_teencode(source: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for raw in source.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, expansion = line.partition("\t")
        key = unicodedata.normalize("NFC", key.strip().lower())
        expansion = unicodedata.normalize("NFC", " ".join(expansion.split()).lower())
        if key and expansion:
            table[key] = expansion
    return table


def expand_word(word: str, table: dict[str, str] | None = None) -> str:
    """Expand a single word, out of context, if it is a known teencode/abbreviation; otherwise return it unchanged.

    The lookup is case-insensitive on the NFC form, e.g. ``"Ko"`` -> ``"không"``. Context senses (see
    :func:`expand_words`) need the neighbouring words and are not applied here.
    """
    table = load_teencode() if table is None else table
    return table.get(unicodedata.normalize("NFC", word).lower(), word)


# A context sense in the teencode table: ``mk<quen`` is "mk" right after "quên", ``mk<lay lai`` right after "lấy
# lại", ``mk>vneid`` right before "VNeID" (neighbours of one or two words, lowercase, diacritics folded). Chat
# writes "mk" for "mình" far more often than for "mật khẩu"; the neighbour tells which.
SENSE_BEFORE = "<"
SENSE_AFTER = ">"
_SENSE_SPAN = 2


def expand_words(words: list[str], table: dict[str, str] | None = None) -> list[str]:
    """Expansion of each word of a sentence: its context sense when a neighbour names one, else its plain entry.

    Words that are not in the table come back unchanged.

    >>> expand_words(["quên", "mk", "vneid"])
    ['quên', 'mật khẩu', 'vneid']
    >>> expand_words(["cho", "mk", "hỏi"])
    ['cho', 'mình', 'hỏi']
    """
    table = load_teencode() if table is None else table
    keys = [unicodedata.normalize("NFC", word).lower() for word in words]
    folded = [fold_diacritics(key) for key in keys]
    expanded = []
    for i, key in enumerate(keys):
        senses = [
            key + SENSE_BEFORE + " ".join(folded[i - span : i]) for span in range(_SENSE_SPAN, 0, -1) if i >= span
        ] + [
            key + SENSE_AFTER + " ".join(folded[i + 1 : i + 1 + span])
            for span in range(_SENSE_SPAN, 0, -1)
            if i + span < len(keys)
        ]
        sense = next((table[s] for s in senses if s in table), None)
        expanded.append(sense or table.get(key, words[i]))
    return expanded


def expand_teencode(text: str, table: dict[str, str] | None = None) -> str:
    """Replace teencode/abbreviation words in ``text`` by their full form, keeping everything else.

    >>> expand_teencode("e muốn đk cccd thì cần j")
    'em muốn đăng ký căn cước công dân thì cần gì'
    >>> expand_teencode("mk quên mk vneid")
    'mình quên mật khẩu vneid'
    """
    text = unicodedata.normalize("NFC", text)
    matches = list(WORD_RE.finditer(text))
    pieces, last = [], 0
    for match, expansion in zip(matches, expand_words([m.group(0) for m in matches], table), strict=True):
        pieces += [text[last : match.start()], expansion]
        last = match.end()
    return "".join(pieces) + text[last:]


def normalize_for_match(text: str, table: dict[str, str] | None = None) -> str:
    """Normalise free text for accent-insensitive matching and search.

    NFC, lowercase, teencode expanded, diacritics folded, punctuation dropped and whitespace
    collapsed: ``"Làm CCCD ở đâu?"`` and ``"lam can cuoc cong dan o dau"`` give the same string.
    """
    expanded = expand_teencode(unicodedata.normalize("NFC", text).lower(), table)
    return " ".join(fold_diacritics(w) for w in WORD_RE.findall(expanded))
