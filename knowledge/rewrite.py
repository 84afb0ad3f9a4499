"""Query rewriting before retrieval: citizens' words to the words procedures are written in.

Two curated, reviewable tables in ``knowledge/data/``:

- ``synonyms.yml``: Vietnamese everyday phrasings ("sổ đỏ", "sang tên", "cà vẹt") and the official wording
  the procedure names use ("giấy chứng nhận quyền sử dụng đất", "đăng ký biến động", "chứng nhận đăng ký
  xe"). A matched phrase is *replaced* in the text used for BM25, word coverage and alias matching (the
  everyday words appear in no procedure name, so keeping them only dilutes coverage), and the official
  wording is *added* to the text the dense model encodes.
- ``glossary_en.yml``: English phrases (foreign investors and workers) and their Vietnamese equivalents. The
  passages are Vietnamese only and e5-small matches English to them poorly, so an English question is
  translated phrase by phrase (longest match first); English words without an entry are dropped.

Operations: many procedures come in variants that differ only by the operation ("Cấp", "Cấp lại", "Cấp đổi",
"Xóa", "Gia hạn"...). :func:`operations_in_name` and :func:`operations_asked` let the searcher tell whether
an entry's operation was asked for (``synonyms.yml`` section ``operations``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

from knowledge.acronyms import abbreviations_in
from knowledge.acronyms import load as load_acronyms
from knowledge.text import fold, fold_diacritics, nfc

SYNONYMS_FILE = "synonyms.yml"  # in the knowledge base folder (KB_DIR, knowledge.store.data_dir)
GLOSSARY_FILE = "glossary_en.yml"

_VIETNAMESE_CHARS = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.I)
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# English words that are not unaccented Vietnamese syllables too ("an", "to", "do", "the", "can", "ban", "con"
# and "in" are both, so they do not count as evidence).
_ENGLISH_EVIDENCE = frozenset(
    """
    how what which where when who why does did is are was were will would should could i my me we our you your
    need needs apply applying application register registration get getting obtain renew renewal license licence
    permit visa passport company business enterprise investment investor foreign foreigner foreigners work worker
    residence temporary card documents document required requirements fee fees cost costs much long take takes
    days online office submit birth certificate marriage driving land building construction tax please help want
    of for with from it this that procedure procedures process steps legal basis conditions result lost
    my our their and or into after before about
    """.split()
)


@dataclass(frozen=True)
class RewrittenQuery:
    """What each retriever should see for one question."""

    original: str
    language: str  # "vi" or "en"
    lexical: str  # text for BM25, word coverage and alias matching
    dense: str  # text for the embedding model
    rewrites: Tuple[Tuple[str, str], ...] = ()  # (matched phrase, replacement), for debugging and tests
    operations: FrozenSet[str] = field(default_factory=frozenset)  # operations the question asks for


def _load_yaml(path: Path):
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _alternation(phrases: List[str]) -> re.Pattern:
    """One regex matching any of ``phrases`` as whole words, longest first."""
    ordered = sorted(set(p for p in phrases if p), key=lambda p: (-len(p), p))
    if not ordered:
        return re.compile(r"(?!x)x")
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


class QueryRewriter:
    """Applies ``synonyms.yml`` and ``glossary_en.yml`` to questions (tables loaded once)."""

    def __init__(self, synonyms: dict, glossary: dict, acronyms: Optional[Dict[str, str]] = None) -> None:
        """Build the matchers from the two parsed YAML documents and the mined abbreviations
        (``knowledge/acronyms.py``: initialism in folded capitals → long form)."""
        self.acronyms: Dict[str, str] = dict(acronyms or {})
        self.vi_map: Dict[str, str] = {}
        self.vi_keep: set = set()  # phrases kept beside their official wording (``keep: true``)
        for item in synonyms.get("synonyms", []):
            for phrase in item["say"]:
                self.vi_map[fold(phrase)] = nfc(item["means"])
                if item.get("keep"):
                    self.vi_keep.add(fold(phrase))
        self.vi_pattern = _alternation(list(self.vi_map))
        self.en_map: Dict[str, str] = {}
        for item in glossary.get("glossary", []):
            for phrase in item["en"]:
                self.en_map[english_normalise(phrase)] = nfc(item["vi"])
        self.en_pattern = _alternation(list(self.en_map))
        # Glossary words of 4+ letters are English evidence too (shorter ones may be Vietnamese syllables).
        self.en_evidence = _ENGLISH_EVIDENCE | {w for phrase in self.en_map for w in phrase.split() if len(w) >= 4}
        self.operations: Dict[str, Tuple[re.Pattern, re.Pattern]] = {}
        for op in synonyms.get("operations", []):
            self.operations[op["name"]] = (
                _alternation([fold(p) for p in op["in_name"]]),
                _alternation([fold(p) for p in op["asked_by"]]),
            )

    @classmethod
    def from_files(cls, synonyms: Optional[Path] = None, glossary: Optional[Path] = None,
                   acronyms: Optional[Path] = None) -> "QueryRewriter":
        """The rewriter of the given tables (default: those of the knowledge base folder)."""
        from knowledge.store import data_dir

        root = data_dir()
        return cls(_load_yaml(synonyms or root / SYNONYMS_FILE), _load_yaml(glossary or root / GLOSSARY_FILE),
                   load_acronyms(acronyms))

    # -- language -------------------------------------------------------------------------------------------
    def is_english(self, text: str) -> bool:
        """True for an English question (Vietnamese typed without diacritics is not English)."""
        if _VIETNAMESE_CHARS.search(text or ""):
            return False
        words = _EN_WORD.findall((text or "").lower())
        if len(words) < 2:
            return False
        evidence = sum(1 for w in words if w in self.en_evidence)
        return evidence >= 2 and evidence / len(words) >= 0.25

    # -- rewriting ------------------------------------------------------------------------------------------
    def rewrite(self, query: str) -> RewrittenQuery:
        """The retriever texts for ``query`` (unchanged texts when no table entry matches)."""
        query = nfc(query)
        if self.is_english(query):
            return self._rewrite_english(query)
        folded = fold(query)
        rewrites: List[Tuple[str, str]] = []

        def replace(match: re.Match) -> str:
            phrase = match.group(0)
            official = self.vi_map[phrase]
            if fold(official) in folded:  # already written officially ("giấy phép xây dựng" holds "phép xây dựng")
                return phrase
            rewrites.append((phrase, official))
            if phrase in self.vi_keep:
                return " " + phrase + " " + fold(official) + " "
            return " " + fold(official) + " "

        lexical = " ".join(self.vi_pattern.sub(replace, folded).split())
        # Abbreviations ("GCN", "hkd", "NHNN"): the long form read off the records, for the encoder always, for BM25
        # where teencode expansion (inside ``fold``) has not already written it out.
        for token, long_form in abbreviations_in(query, self.acronyms):
            key = fold_diacritics(token.lower())
            rewrites.append((token, long_form))
            lexical = " ".join(re.sub(rf"\b{re.escape(key)}\b", " " + fold(long_form) + " ", lexical).split())
        dense = query
        if rewrites:
            dense = query + " (" + "; ".join(official for _, official in rewrites) + ")"
        return RewrittenQuery(query, "vi", lexical if rewrites else query, dense, tuple(rewrites),
                              self.operations_asked(lexical))

    def _rewrite_english(self, query: str) -> RewrittenQuery:
        text = english_normalise(query)
        pieces: List[str] = []
        rewrites: List[Tuple[str, str]] = []
        for match in self.en_pattern.finditer(text):
            vi = self.en_map[match.group(0)]
            rewrites.append((match.group(0), vi))
            pieces.append(vi)
        vietnamese = " ".join(pieces)
        if not vietnamese:
            # Nothing known: keep the English so the question is still judged by the (multilingual) encoder.
            return RewrittenQuery(query, "en", query, query, (), frozenset())
        # BM25 reads the Vietnamese equivalents only; the encoder reads the question itself with them beside it, as
        # for a Vietnamese question: the glossary's pieces alone lose what it does not know (on the bank's test
        # split, dense hit@1 of English questions 0.16 with the pieces alone, 0.40 with the question and pieces).
        return RewrittenQuery(query, "en", vietnamese, query + " (" + vietnamese + ")", tuple(rewrites),
                              self.operations_asked(fold(vietnamese)))

    # -- operations -----------------------------------------------------------------------------------------
    def operations_asked(self, folded_text: str) -> FrozenSet[str]:
        """Operations a (folded) question asks for, e.g. {"cap_lai"} for "mất sổ đỏ làm lại"."""
        return frozenset(name for name, (_, asked) in self.operations.items() if asked.search(folded_text))

    def operations_in_name(self, name: str) -> FrozenSet[str]:
        """Operations a procedure name starts with ("Cấp lại ...", "Xóa đăng ký ..."); a name that starts with the
        plain operation ("Cấp, cấp lại ...") performs no variant only."""
        head = re.sub(r"^thu tuc\s+", "", fold(name))
        return frozenset(op for op, (in_name, _) in self.operations.items() if in_name.match(head))


def english_normalise(text: str) -> str:
    """Lowercase English with British/American and hyphen variants unified."""
    text = (text or "").lower().replace("-", " ").replace("’", "'")
    text = re.sub(r"\blicen[cs]e\b", "licence", text)
    text = re.sub(r"\blicen[cs]es\b", "licences", text)
    text = re.sub(r"\b(\w+)is(e|ed|es|ing|ation)\b", r"\1iz\2", text)
    return " ".join(re.findall(r"[a-z0-9']+", text))


@lru_cache(maxsize=1)
def get_rewriter() -> QueryRewriter:
    """The process-wide rewriter of the shipped tables."""
    return QueryRewriter.from_files()
