"""Diacritic restoration for questions typed without accents ("lam giay khai sinh" -> "làm giấy khai sinh").

Why: the dense model (e5-small) understands Vietnamese written with diacritics far better than the folded
form; citizens often type without them. A syllable bigram model learned from the knowledge base's own text
(names, documents, steps, conditions of 2,642 procedures: the vocabulary people ask about) picks, with
Viterbi, the most likely accented form of each folded syllable given its neighbours. The accented questions of
the question bank's train split and of the NLU data add the words citizens use and procedure texts lack
(syllables restored right on the strangers' test set 0.905 -> 0.965: scripts/eval_accents.py). The lexical
retrievers work on folded text anyway; only the text the dense model embeds is restored.

The model is built by ``python -m knowledge build`` into ``models/kb-accents.json`` (stale when the knowledge
base changes) and loaded lazily by the searcher.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

from knowledge.text import fold, nfc
from nlu_components.normalize import expand_teencode, fold_diacritics

MODEL_VERSION = 3  # 2: the bank's train questions in the corpus; 3: candidates keyed without teencode
_WORD = re.compile(r"\w+", re.UNICODE)
_VIETNAMESE_CHARS = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.I)
MAX_CANDIDATES = 6
LAMBDA = 0.8  # weight of the bigram estimate against the unigram one


def has_diacritics(text: str) -> bool:
    """Whether the text carries any Vietnamese diacritic (then it is left as typed)."""
    return bool(_VIETNAMESE_CHARS.search(text or ""))


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


NLU_DIR = Path(__file__).resolve().parent.parent / "data" / "nlu"
QUESTION_WEIGHT = 5  # citizens' questions are the register we restore; the KB text is the vocabulary


def nlu_examples(nlu_dir: Path) -> Iterator[str]:
    """The accented training questions of the Rasa NLU data (entity annotations stripped)."""
    import yaml

    for path in sorted(Path(nlu_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []) or []:
            for line in str(block.get("examples", "")).splitlines():
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), line)
                text = text.lstrip("- ").strip()
                if has_diacritics(text):
                    yield text


def bank_examples(knowledge_dir: Optional[Path] = None) -> Iterator[str]:
    """The accented questions of the question bank's train split (never the test split: it measures this)."""
    from knowledge import bank

    for question in bank.load_bank(knowledge_dir, splits=("train",)):
        if has_diacritics(question.q):
            yield question.q


def corpus_sentences(knowledge_dir: Optional[Path] = None, nlu_dir: Optional[Path] = NLU_DIR,
                     with_bank: bool = True) -> Iterator[List[str]]:
    """Lower-cased syllable sequences of every text field of the knowledge base (procedures and FAQ), plus the
    accented questions of the NLU training data (unless ``nlu_dir`` is None) and of the bank's train split (unless
    ``with_bank`` is false), each repeated ``QUESTION_WEIGHT`` times: they carry the conversational words, "tôi",
    "đâu", "bao nhiêu", "bị mất", that procedure texts lack."""
    from knowledge import store

    questions = list(nlu_examples(nlu_dir)) if nlu_dir and Path(nlu_dir).is_dir() else []
    questions += list(bank_examples(knowledge_dir)) if with_bank else []
    for text in questions:
        words = _WORD.findall(nfc(text).lower())
        for _ in range(QUESTION_WEIGHT if words else 0):
            yield words

    for proc in store.load_procedures(knowledge_dir):
        for text in _strings(proc.model_dump(exclude={"url", "code"})):
            for sentence in re.split(r"[.;:!?\n()\[\]\"“”]+", nfc(text).lower()):
                words = _WORD.findall(sentence)
                if words:
                    yield words
    for faq in store.load_faq(knowledge_dir):
        for text in _strings(faq.model_dump()):
            words = _WORD.findall(nfc(text).lower())
            if words:
                yield words


class AccentRestorer:
    """Viterbi over the accented forms seen for each folded syllable."""

    def __init__(self, unigrams: Dict[str, int], bigrams: Dict[str, int]) -> None:
        """``unigrams``: accented syllable -> count; ``bigrams``: "a b" (accented) -> count."""
        self.unigrams = unigrams
        self.bigrams = bigrams
        self.total = max(sum(unigrams.values()), 1)
        # Keyed by the form without its diacritics only: `fold` would also expand teencode, and a question's "e",
        # "ko", "v" would then compete with "em", "không", "vậy" (restore() expands teencode before the lookup).
        by_folded: Dict[str, List[str]] = {}
        for form in unigrams:
            by_folded.setdefault(fold_diacritics(form), []).append(form)
        self.candidates = {
            key: sorted(forms, key=lambda f: (-unigrams[f], f))[:MAX_CANDIDATES] for key, forms in by_folded.items()
        }

    @classmethod
    def train(cls, sentences: Iterable[List[str]], min_bigram: int = 2) -> "AccentRestorer":
        """Count syllables and adjacent pairs; pairs seen fewer than ``min_bigram`` times are dropped."""
        unigrams: Counter = Counter()
        bigrams: Counter = Counter()
        for words in sentences:
            unigrams.update(words)
            bigrams.update(f"{a} {b}" for a, b in zip(words, words[1:]))
        return cls(dict(unigrams), {k: v for k, v in bigrams.items() if v >= min_bigram})

    def _log_p(self, prev: Optional[str], word: str) -> float:
        p_uni = (self.unigrams.get(word, 0) + 0.1) / (self.total + 0.1 * len(self.unigrams))
        if prev is None:
            return math.log(p_uni)
        p_bi = self.bigrams.get(f"{prev} {word}", 0) / self.unigrams.get(prev, 1)
        return math.log(LAMBDA * p_bi + (1 - LAMBDA) * p_uni)

    def restore(self, text: str) -> str:
        """``text`` (folded or unaccented) with the most likely diacritics; unknown words stay as they are."""
        words = _WORD.findall(fold(text))
        if not words:
            return text
        lattice = [self.candidates.get(w) or [w] for w in words]
        # best[i][form] = (score, back-pointer form)
        best: List[Dict[str, tuple]] = [{f: (self._log_p(None, f), None) for f in lattice[0]}]
        for i in range(1, len(words)):
            column: Dict[str, tuple] = {}
            for form in lattice[i]:
                column[form] = max(
                    ((score + self._log_p(prev, form), prev) for prev, (score, _) in best[i - 1].items()),
                    key=lambda item: item[0],
                )
            best.append(column)
        form = max(best[-1], key=lambda f: best[-1][f][0])
        out = [form]
        for i in range(len(words) - 1, 0, -1):
            form = best[i][form][1]
            out.append(form)
        return " ".join(reversed(out))

    def syllable_accuracy(self, accented: Iterable[str]) -> dict:
        """How many syllables of ``accented`` questions come back as written once their diacritics are removed
        and restored (lower-cased, teencode expanded as :func:`knowledge.text.fold` does; a question whose syllable
        count changes is skipped)."""
        syllables = right = exact = n = 0
        for text in accented:
            written = expand_teencode(nfc(text).lower())
            gold = _WORD.findall(written)
            restored = self.restore(fold_diacritics(written)).split()
            if not gold or len(restored) != len(gold):
                continue
            good = sum(a == b for a, b in zip(gold, restored))
            syllables, right, exact, n = syllables + len(gold), right + good, exact + (good == len(gold)), n + 1
        return {"questions": n, "syllables": syllables, "syllable_accuracy": right / max(syllables, 1),
                "question_exact": exact / max(n, 1)}

    # -- persistence ----------------------------------------------------------------------------------------
    def save(self, path: Path, source_hash: str, build_seconds: float) -> None:
        """Write the counts and build metadata as one JSON file."""
        data = {"version": MODEL_VERSION, "source_hash": source_hash, "build_seconds": round(build_seconds, 2),
                "unigrams": self.unigrams, "bigrams": self.bigrams}
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "AccentRestorer":
        """The model saved by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["unigrams"], data["bigrams"])


def model_path(index_dir: Path) -> Path:
    """Where the accent model of an index lives (beside the index folder, sharing its staleness rule)."""
    return Path(index_dir).parent / "kb-accents.json"


def corpus_hash(knowledge_hash: str, nlu_dir: Path = NLU_DIR) -> str:
    """Staleness key of the model: the knowledge base's source hash plus the NLU questions it learns from."""
    import hashlib

    digest = hashlib.sha256(f"{MODEL_VERSION}:{knowledge_hash}".encode())
    for path in sorted(Path(nlu_dir).glob("*.yml")) if Path(nlu_dir).is_dir() else []:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_stale(path: Path, source_hash: str) -> bool:
    """Whether the accent model must be rebuilt."""
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(200)
    except OSError:
        return True
    match = re.search(r'"version":(\d+),"source_hash":"([0-9a-f]+)"', head)
    return not match or int(match.group(1)) != MODEL_VERSION or match.group(2) != source_hash


def build(path: Path, source_hash: str, knowledge_dir: Optional[Path] = None) -> AccentRestorer:
    """Train on the knowledge base and save to ``path``."""
    started = time.time()
    restorer = AccentRestorer.train(corpus_sentences(knowledge_dir))
    restorer.save(path, source_hash, time.time() - started)
    return restorer
