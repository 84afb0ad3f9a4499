"""English names of the procedures (``knowledge/data/names_en.jsonl``), for questions asked in English.

The passages of the index are Vietnamese; multilingual e5-small matches an English question to them only passably
(English is the weakest style of the question bank). Every procedure therefore also has an English rendering of
its official name, translated from the name alone (``names_en.md`` says how), which the index embeds as a second,
English-only passage (:mod:`knowledge.index`); the searcher reads it for English questions only, embedded and as
a BM25 over :func:`english_tokens`.

One JSON object per line: ``{"code": "1.000005", "en": "Customs procedures for ..."}``.
:func:`problems` is the validator ``make test`` runs (``python -m knowledge names-en validate``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional

NAMES_FILE = "names_en.jsonl"
MAX_WORDS = 60
_ASCII_TEXT = re.compile(r"[\x20-\x7e]+")


def names_path(root: Optional[Path] = None) -> Path:
    from knowledge.store import data_dir

    return Path(root or data_dir()) / NAMES_FILE


@lru_cache(maxsize=4)
def _load(path: Path) -> Dict[str, str]:
    if not path.exists():
        return {}
    out: Dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["code"]] = " ".join(str(row["en"]).split())
    return out


def load_names(root: Optional[Path] = None) -> Mapping[str, str]:
    """``code -> English name`` (empty when the knowledge base has no such file): read once per file, returned
    read-only and uncopied (the answer action asks it for every button)."""
    return MappingProxyType(_load(names_path(root).resolve()))


# Words every question or name has: they say nothing about which procedure is meant.
_STOPWORDS = frozenset("""
a an the of for to in on at by with and or from as into under than is are be been was were am i my me we our us you
your he she his her it its this that these those there their them how what where when which who whom why do does did
can could may might must shall should will would need needs want wants please about get got much many long any some
not no if so also just only still already other such per via etc
""".split())
_SUFFIXES = ("rations", "ration", "ations", "ation", "ions", "ion", "ments", "ment", "ings", "ing", "ies", "ors", "or",
             "ers", "er", "als", "al", "ed", "es", "s")


def english_stem(word: str) -> str:
    """A crude suffix stripper (no stemming package in the stack): "registration", "registered", "registers" and
    "register" all become "regist"; "certificates" and "certificate" become "certificat", "investors" and
    "invested" "invest"."""
    for _ in range(2):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.endswith("ss"):
                word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
                break
        else:
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def english_tokens(text: str) -> List[str]:
    """BM25 tokens of an English text: normalised spelling (:func:`knowledge.rewrite.english_normalise`), no
    stopwords, stemmed."""
    from knowledge.rewrite import english_normalise

    return [english_stem(w) for w in english_normalise(text).split() if w not in _STOPWORDS and len(w) > 1]


def name_key(name: str) -> str:
    """A Vietnamese name as the "same name" check compares it: folded words, punctuation and a word typed twice
    in a row ignored (the portal lists "Chuyển hình thức giao đất, cho thuê đất" and the same with a full stop)."""
    from knowledge.text import fold

    words = re.findall(r"\w+", fold(name))
    return " ".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1])


def problems(root: Optional[Path] = None) -> List[str]:
    """Everything wrong with the file: bad lines, unknown or repeated codes, procedures without a name, non-ASCII
    or over-long names, and two procedures with different Vietnamese names (:func:`name_key`) but the same English
    one (siblings that differ in one word must differ in English too)."""
    from knowledge import store

    path = names_path(root)
    if not path.exists():
        return [f"{path} is missing"]
    procedures = {p.code: name_key(p.name) for p in store.load_procedures(root)}
    found: List[str] = []
    seen: Dict[str, int] = {}
    by_english: Dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            code, english = row["code"], " ".join(str(row["en"]).split())
        except (ValueError, KeyError, TypeError):
            found.append(f"line {number}: not a JSON object with 'code' and 'en'")
            continue
        if code not in procedures:
            found.append(f"line {number}: unknown procedure code {code!r}")
        if code in seen:
            found.append(f"line {number}: {code} repeats line {seen[code]}")
        seen[code] = number
        if not english:
            found.append(f"line {number}: {code} has an empty name")
        elif not _ASCII_TEXT.fullmatch(english):
            found.append(f"line {number}: {code} has characters outside ASCII")
        elif len(english.split()) > MAX_WORDS:
            found.append(f"line {number}: {code} has more than {MAX_WORDS} words")
        key = english.lower()
        other = by_english.get(key)
        if other and procedures.get(other) != procedures.get(code):
            found.append(f"line {number}: {code} and {other} differ in Vietnamese but share the English name")
        by_english.setdefault(key, code)
    missing = sorted(set(procedures) - set(seen))
    if missing:
        found.append(f"{len(missing)} procedures without an English name (first: {', '.join(missing[:5])})")
    return found
