"""Hybrid search over the knowledge index: dense (faiss) + BM25 + alias matches, with abstention.

The searcher loads the index folder once; the encoder loads lazily on the first query.
"""

from __future__ import annotations

import json
import sys
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from knowledge.accents import has_diacritics
from knowledge.rewrite import RewrittenQuery, get_rewriter
from knowledge.text import content_words, fold, lexical_tokens, strip_question, wording_key

FUSION_FILE = Path(__file__).resolve().parent / "fusion.json"


@dataclass(frozen=True)
class FusionParams:
    """Weights and thresholds of the fused score (tuned on the dev set by ``scripts/tune_search.py``)."""

    w_dense: float = 0.45
    w_lexical: float = 0.2
    w_coverage: float = 0.2
    w_alias: float = 0.15
    w_idf_coverage: float = 0.0  # share of the question's word weight (IDF) found in the entry
    w_missing: float = 0.0  # penalty: the rarest question word the entry lacks (IDF, scaled to [0, 1])
    w_variant: float = 0.0  # penalty: the entry is an operation variant ("Cấp lại ...") the question did not ask
    w_operation: float = 0.0  # bonus: the entry's operation is the one the question asks for
    dense_floor: float = 0.75  # e5 cosines live in a narrow band; map [floor, floor+span] to [0, 1]
    dense_span: float = 0.17
    abstain_below: float = 0.45
    ambiguous_margin: float = 0.02
    # When abstaining, up to ``suggest_count`` procedures scoring at least this are offered as "maybe you mean"
    # buttons (never as an answer). Chosen on the dev set (scripts/eval_retrieval.py reports what it finds and costs).
    suggest_above: float = 0.25
    # Five, not three: with the learned ranker the right procedure is 4th or 5th for ~2.4 % of the bank's test
    # split questions (hit@3 0.916, hit@5 0.948), and a probability floor on those two positions loses most of it.
    suggest_count: int = 5
    candidates: int = 50

    @classmethod
    def load(cls, path: Optional[Path]) -> "FusionParams":
        """Params from a JSON file (keys as the fields), defaults for missing keys or file."""
        if path and Path(path).exists():
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        return cls()


@dataclass
class Hit:
    """One ranked entry with the parts of its score."""

    code: str
    name: str
    kind: str
    url: str
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    coverage: float = 0.0
    alias: float = 0.0
    idf_coverage: float = 0.0
    missing: float = 0.0
    variant: float = 0.0
    operation: float = 0.0
    bank: float = 0.0  # best cosine between the question and a bank question of this procedure
    probability: float = 0.0  # the learned ranker's probability that this entry is the one asked about
    family: str = ""
    level: str = ""  # the level variant the name states ("tinh", "xa", "trung_uong", ...), else ""
    bank_count: float = 0.0  # how many bank questions of this procedure are visible (/ 20, at most 1)


@dataclass
class SearchResponse:
    """What a search returns; ``abstain`` means: do not answer from the knowledge base."""

    query: str
    abstain: bool
    ambiguous: bool = False
    no_topic: bool = False  # the question names no topic at all (e.g. only "mất bao lâu?")
    results: List[Hit] = field(default_factory=list)
    language: str = "vi"  # "en" when the question was English (translated by knowledge/rewrite.py)
    rewritten: str = ""  # the text the lexical retriever saw, when the rewriter changed it
    suggestions: List[Hit] = field(default_factory=list)  # when abstaining: procedures the citizen may mean
    # The calibrated probability that results[0] is the procedure asked about, and what to do with it:
    # "answer", "clarify" (ask between the 2-3 siblings on top) or "abstain" (suggestions + a person).
    confidence: float = 0.0
    decision: str = "abstain"
    local_variant: bool = False  # the top result was preferred over its level siblings as the local one
    approved: bool = False  # the question's wording is one a supervisor approved for results[0] (review queue)

    def to_json(self, top_k: Optional[int] = None) -> dict:
        """The CLI's stable JSON contract: ``abstain`` is true unless the bot would answer ``results[0]``."""
        hits = self.results[:top_k] if top_k else self.results
        return {
            "query": self.query,
            "abstain": self.abstain or self.decision != "answer",
            "decision": self.decision,
            "confidence": round(self.confidence, 4),
            "results": [{"code": h.code, "name": h.name, "score": round(h.score, 4)} for h in hits],
        }

    def debug(self) -> dict:
        """Everything, for tuning and the console."""
        data = asdict(self)
        return data


class AliasMatcher:
    """spaCy PhraseMatcher over every entry's folded name and aliases (two words or more).

    One pass over the query finds every alias it contains, whatever the number of entries; a regex per alias
    would cost ~15,000 searches per query.
    """

    def __init__(self, entries: List[dict]) -> None:
        """Register the folded aliases of ``entries`` (their ``folded_aliases`` field)."""
        import spacy
        from spacy.matcher import PhraseMatcher

        # The multi-language tokenizer splits folded Vietnamese on spaces and punctuation, which is all we need;
        # spaCy's "vi" tokenizer would need pyvi and re-segments words.
        self.nlp = spacy.blank("xx")
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        by_alias: Dict[str, List[int]] = {}
        for number, entry in enumerate(entries):
            for alias in entry.get("folded_aliases", []):
                if len(alias.split()) >= 2:
                    by_alias.setdefault(alias, []).append(number)
        self.entries_of: Dict[int, List[int]] = {}
        for alias, numbers in by_alias.items():
            key = self.nlp.vocab.strings.add("A:" + alias)
            self.entries_of[key] = numbers
        for alias in by_alias:
            self.matcher.add("A:" + alias, [self.nlp.make_doc(alias)])

    def best_lengths(self, folded_query: str) -> Dict[int, int]:
        """Entry number -> word length of its longest alias found in the query."""
        doc = self.nlp.make_doc(folded_query)
        best: Dict[int, int] = {}
        for key, start, end in self.matcher(doc):
            length = sum(1 for tok in doc[start:end] if not tok.is_punct)
            for number in self.entries_of.get(key, []):
                best[number] = max(best.get(number, 0), length)
        return best


def rewrite_query(rewriter, accents, query: str) -> RewrittenQuery:
    """The texts each retriever sees for ``query`` (see knowledge/rewrite.py); a Vietnamese question typed
    without diacritics is embedded with its diacritics restored (knowledge/accents.py)."""
    rq = rewriter.rewrite(query)
    if rq.language != "vi" or accents is None or has_diacritics(query):
        return rq
    restored = accents.restore(query)
    extra = rq.dense[len(query):] if rq.dense.startswith(query) else ""
    return replace(rq, dense=restored + extra)


def load_accents(index_dir: Path):
    """The diacritic restorer built beside the index, or None (questions are then embedded as typed)."""
    import logging

    from knowledge.accents import AccentRestorer, model_path

    path = model_path(index_dir)
    if not path.exists():
        logging.getLogger(__name__).warning("No accent model at %s: run `python -m knowledge build`.", path)
        return None
    return AccentRestorer.load(path)


def bank_text_function(index_dir: Path):
    """How bank questions are embedded: exactly like a citizen's question (rewriting, restored diacritics)."""
    rewriter, accents = get_rewriter(), load_accents(index_dir)
    return lambda question: rewrite_query(rewriter, accents, (question or "").strip()).dense


# Levels a resident of the province deals with first, when the same procedure exists at several levels and the
# question names none (lower is preferred; a name stating no level is the local, provincial/communal one).
LEVEL_PREFERENCE = {"xa": 0, "": 1, "tinh": 1, "huyen": 2, "trung_uong": 3}
LEVEL_LABELS = {"xa": "cấp xã", "tinh": "cấp tỉnh", "huyen": "cấp huyện", "trung_uong": "cấp trung ương"}
BANK_NEIGHBOURS = 10
LIVE_SPLIT = "approved"  # the bank split of the review queue's approved questions (knowledge/live_bank.py)
BANK_TEMPERATURE = 0.05

# The steps of Searcher.search that the timing hook (Searcher.timing) can clock, in the order a search takes them.
TIMED_PARTS = (
    "rewrite",  # Searcher.rewrite: synonym/glossary tables (knowledge/rewrite.py)
    "accent_restore",  # the diacritic restorer inside the rewrite, when the index has one
    "content_words",  # knowledge.text.content_words
    "alias_matcher",  # knowledge.text.fold + AliasMatcher.best_lengths
    "dense_faiss",  # the faiss index search
    "dense_dedup",  # the rest of the dense scores (best vector per entry)
    "lexical_tokens",  # knowledge.text.strip_question + lexical_tokens
    "bm25_get_scores",  # bm25s BM25.get_scores
    "score_parts_rest",  # the rest of Searcher.score_parts: candidate set, top BM25, coverage/IDF/operation arrays
)


class _TimedIndex:
    """Stands in for the faiss index while timed: ``search`` wrapped, every other attribute the real index's."""

    def __init__(self, index, search: Callable) -> None:
        self._index = index
        self.search = search

    def __getattr__(self, name: str):
        return getattr(self._index, name)


@dataclass(frozen=True)
class _BankState:
    """The question bank as one search reads it: ``parts`` (vectors, rows, BM25) or None, and per row the entry
    number (-1: unanswerable), whether it is answerable and votes (its split is wanted), and the answerable rows
    grouped by entry for per-entry maxima with one ``reduceat`` (``ufunc.at`` is ~10x slower)."""

    parts: Optional[tuple]
    entry: np.ndarray
    answerable: np.ndarray
    active: np.ndarray
    groups: tuple
    approved: Dict[str, int] = field(default_factory=dict)  # wording key -> entry, of the voting approved rows

    @classmethod
    def of(cls, parts: Optional[tuple], splits: Optional[Sequence[str]], by_code: Dict[str, int]) -> "_BankState":
        if parts is None:
            empty = np.zeros(0, dtype=np.int64)
            return cls(None, empty, np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), (empty, empty, empty))
        rows = parts[1]
        entry = np.array([by_code.get(r["code"], -1) if r["code"] else -1 for r in rows], dtype=np.int64)
        answerable = entry >= 0
        active = np.array([splits is None or r["split"] in splits for r in rows], dtype=bool)
        active &= answerable | np.array([r["code"] is None for r in rows], dtype=bool)
        grouped = np.flatnonzero(answerable)
        grouped = grouped[np.argsort(entry[grouped], kind="stable")]
        owners = entry[grouped]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else np.zeros(0, int)
        # A wording approved for one procedure (never one approved for two: then the ranker decides).
        approved: Dict[str, set] = {}
        for number, row in enumerate(rows):
            if row["split"] == LIVE_SPLIT and active[number] and answerable[number]:
                approved.setdefault(wording_key(row["q"]), set()).add(int(entry[number]))
        return cls(parts, entry, answerable, active,
                   (grouped, starts, owners[starts] if len(owners) else np.zeros(0, dtype=np.int64)),
                   {key: next(iter(found)) for key, found in approved.items() if len(found) == 1})


class Searcher:
    """Query a built index folder."""

    def __init__(self, index_dir: Path, encoder, params: Optional[FusionParams] = None,
                 bank_splits: Optional[Sequence[str]] = None, use_ranker: bool = True, live=None) -> None:
        """Load the index files; the encoder itself loads on first use.

        ``bank_splits``: which splits of the question bank vote in question-to-question matching (default
        all; ``make eval`` scores the bank's test split with ``("train",)``). ``use_ranker=False`` keeps the
        hand-tuned linear fusion (the baseline, and what the ranker trainer starts from). ``live``: a
        :class:`knowledge.live_bank.LiveBank` keeping approved review-queue questions in the bank (split
        ``approved``) without a rebuild; the deployed searcher (:func:`get_searcher`) has one.
        """
        import faiss

        from knowledge.index import (
            KnowledgeIndexError,
            load_bank_parts,
            load_english_part,
            load_parts,
            verify_files,
        )

        # One thread: faster for a single query vector and it leaves the other core to Rasa (measured in bench).
        faiss.omp_set_num_threads(1)
        self.index_dir = Path(index_dir)
        # A missing or damaged index is a KnowledgeIndexError naming the file, never an empty search.
        config = verify_files(self.index_dir)
        if config.get("model") != encoder.name:
            raise KnowledgeIndexError(
                f"built with encoder {config.get('model')!r}, but {encoder.name!r} is configured",
                self.index_dir / "config.json",
            )
        self.config, self.dense, self.rows, self.entries, self.bm25 = load_parts(self.index_dir, config)
        self.dense_en = load_english_part(self.index_dir)  # English names, read for English questions only
        self._bm25_en = None  # BM25 over the English names, built on the first English question
        self._bm25_en_lock = threading.Lock()
        self.encoder = encoder
        self.params = params or FusionParams.load(FUSION_FILE)
        self.syllable_sets = [set(e.get("syllables", [])) for e in self.entries]
        # Inverse document frequency of each folded syllable over the entries: a missing rare word ("dược" in
        # "chứng chỉ hành nghề dược") says more than a missing common one ("cấp").
        df: Dict[str, int] = {}
        for words in self.syllable_sets:
            for word in words:
                df[word] = df.get(word, 0) + 1
        n = max(len(self.entries), 1)
        self.idf: Dict[str, float] = {w: float(np.log((n + 1) / (c + 0.5))) for w, c in df.items()}
        self.unknown_idf = float(np.log((n + 1) / 0.5))  # a word no entry has weighs the most
        self.alias_matcher = AliasMatcher(self.entries)
        self.by_code: Dict[str, int] = {e["code"]: i for i, e in enumerate(self.entries)}
        self.rewriter = get_rewriter()
        self.accents = load_accents(self.index_dir)
        self._rewrite_cached = lru_cache(maxsize=512)(self._rewrite_uncached)  # search() and score_parts() both need it
        # Operation of each entry ("Cấp lại ...") and the operations' ids, for the variant penalty.
        self.operation_names = sorted(self.rewriter.operations)
        self.entry_ops = np.zeros((len(self.entries), max(len(self.operation_names), 1)), dtype=bool)
        names = []
        for i, entry in enumerate(self.entries):
            if entry.get("kind") == "procedure":
                for op in self.rewriter.operations_in_name(entry["name"]):
                    self.entry_ops[i, self.operation_names.index(op)] = True
            names.append(entry["name"] if entry.get("kind") == "procedure" else "")
        # Sibling-contrast attributes of every entry (knowledge/contrast.py).
        from knowledge.contrast import get_contrasts

        self.contrasts = get_contrasts()
        self.entry_contrast = self.contrasts.entry_matrix(names)
        self.entry_family = [e.get("family") or e["code"] for e in self.entries]
        self.entry_level = [self._level_of(i) for i in range(len(self.entries))]
        self.entry_words = np.array([len(e["name"].split()) for e in self.entries], dtype=np.float64)
        # Topic words of each entry's name, for the name-side recall (how much of a candidate's name, weighted by
        # rarity, the question says): of two siblings, the one whose extra words the question lacks is the worse.
        # Each entry's name words with their IDF weights and the weights' total, computed once for name_recall.
        self.name_words = []
        for entry in self.entries:
            words = sorted(set(content_words(entry["name"])))
            weights = [self.idf.get(w, self.unknown_idf) for w in words]
            self.name_words.append((words, weights, sum(weights)))
        self.entry_is_faq = np.array([e.get("kind") == "faq" for e in self.entries], dtype=np.float64)
        # The question bank: questions that vote for their procedure (question-to-question matching). The
        # index's own part, and what the search reads: that part plus the live approved questions, swapped whole.
        self._base_bank = load_bank_parts(self.index_dir)
        self._bank_lock = threading.Lock()
        self._bank_state = _BankState.of(self._base_bank, bank_splits, self.by_code)
        self.bank_splits = bank_splits
        self.ranker = None
        if use_ranker:
            from knowledge.ranker import load_ranker

            self.ranker = load_ranker(self.index_dir)
            scale = self.ranker.meta.get("dense_scale") if self.ranker is not None else None
            if scale:  # this encoder's cosine range (knowledge/ranker.py: dense_scale), as the ranker was trained
                self.params = replace(self.params, **scale)
        self.live = live
        if live is not None:
            live.poll(self)  # approved questions already persisted join the bank in the background

    def _level_of(self, number: int) -> str:
        if "level" not in self.contrasts.groups:
            return ""
        values = self.contrasts.values["level"]
        have = [v for j, v in enumerate(values) if self.entry_contrast["level"][number, j]]
        return min(have, key=lambda v: LEVEL_PREFERENCE.get(v, 9), default="")

    def set_bank_splits(self, splits: Optional[Sequence[str]]) -> None:
        """Which bank splits vote (None = all; the live approved questions are split ``approved``)."""
        with self._bank_lock:
            self.bank_splits = splits
            self._bank_state = _BankState.of(self._bank_state.parts, splits, self.by_code)

    def merge_live(self, rows: List[dict], vectors: Optional[np.ndarray], tokens: List[List[str]]) -> None:
        """Make the bank the index's own part plus ``rows`` (approved questions, embedded as bank questions are,
        ``vectors``); ``tokens``: the BM25 tokens of every question, the index's first. Searches running keep the
        bank they started with; the next ones read the new one. No rows: the index's part alone."""
        import bm25s

        base = self._base_bank
        if not rows:
            parts = base
        else:
            base_vectors, base_rows = (base[0], base[1]) if base is not None else (
                np.zeros((0, self.dense.d), dtype=np.float32), [])
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            parts = (np.concatenate([base_vectors, np.asarray(vectors, dtype=np.float32)]), base_rows + list(rows),
                     bm25)
        with self._bank_lock:
            self._bank_state = _BankState.of(parts, self.bank_splits, self.by_code)

    def base_bank_rows(self) -> List[dict]:
        """The rows of the index's own question bank (without live approved questions)."""
        return self._base_bank[1] if self._base_bank is not None else []

    def procedure_codes(self) -> set:
        """Codes of the procedures in the index (what an approved question may name)."""
        return {e["code"] for e in self.entries if e.get("kind") == "procedure"}

    # The bank as the search reads it (one consistent snapshot: _BankState).
    @property
    def bank(self) -> Optional[tuple]:
        return self._bank_state.parts

    @property
    def bank_entry(self) -> np.ndarray:
        return self._bank_state.entry

    @property
    def bank_active(self) -> np.ndarray:
        return self._bank_state.active

    @property
    def bank_answerable(self) -> np.ndarray:
        return self._bank_state.answerable

    @property
    def bank_groups(self) -> tuple:
        return self._bank_state.groups

    def rewrite(self, query: str) -> RewrittenQuery:
        """The texts each retriever sees for ``query`` (see :func:`rewrite_query`)."""
        return self._rewrite_cached((query or "").strip())

    def _rewrite_uncached(self, query: str) -> RewrittenQuery:
        return rewrite_query(self.rewriter, self.accents, query)

    def dense_text(self, query: str) -> str:
        """The text to embed for ``query`` (callers that batch-encode queries use it)."""
        return self.rewrite(query).dense

    def clear_caches(self) -> None:
        """Forget the per-question cache (the rewrite), so the next search of any question does all of its work."""
        self._rewrite_cached.cache_clear()

    # -- timing hook -----------------------------------------------------------------------------------------
    @contextmanager
    def timing(self, wrap: Callable[[str, Callable], Callable]) -> Iterator[None]:
        """Timing hook for benchmarks: inside the block every step of :meth:`search` named in :data:`TIMED_PARTS`
        runs as ``wrap(part, step)(...)`` (``wrap`` returns the step with a clock around it); on exit everything is
        restored. The text helpers (``fold``, ``content_words``, ``strip_question``, ``lexical_tokens``) are this
        module's names, so they are wrapped module-wide for the block. Outside the block nothing is wrapped: an
        ordinary search pays nothing for the hook.
        """
        module = sys.modules[__name__]
        patches: List[tuple] = []

        def patch(owner, attribute: str, replacement) -> None:
            own = attribute in vars(owner)
            patches.append((owner, attribute, own, vars(owner).get(attribute)))
            setattr(owner, attribute, replacement)

        try:
            # search() and score_parts() both call rewrite(): one miss (the real work) and one cache hit.
            patch(self, "rewrite", wrap("rewrite", self.rewrite))
            if self.accents is not None:
                patch(self.accents, "restore", wrap("accent_restore", self.accents.restore))
            patch(module, "content_words", wrap("content_words", content_words))
            patch(module, "fold", wrap("alias_matcher", fold))
            patch(self.alias_matcher, "best_lengths", wrap("alias_matcher", self.alias_matcher.best_lengths))
            patch(self, "dense", _TimedIndex(self.dense, wrap("dense_faiss", self.dense.search)))
            patch(self, "_dense_scores", wrap("dense_dedup", self._dense_scores))
            patch(module, "strip_question", wrap("lexical_tokens", strip_question))
            patch(module, "lexical_tokens", wrap("lexical_tokens", lexical_tokens))
            patch(self.bm25, "get_scores", wrap("bm25_get_scores", self.bm25.get_scores))
            patch(self, "score_parts", wrap("score_parts_rest", self.score_parts))
            yield
        finally:
            for owner, attribute, own, previous in reversed(patches):
                if own:
                    setattr(owner, attribute, previous)
                else:
                    delattr(owner, attribute)

    # -- scoring parts -------------------------------------------------------------------------------------
    def _dense_scores(self, query: str, k: int, vector: Optional[np.ndarray] = None) -> tuple:
        if vector is None:
            vector = self.encoder.encode_queries([query])
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if vector.shape[1] != self.dense.d:
            from knowledge.index import KnowledgeIndexError

            raise KnowledgeIndexError(
                f"dense.faiss has dimension {self.dense.d} but the encoder gives {vector.shape[1]}",
                self.index_dir / "dense.faiss",
            )
        scores, ids = self.dense.search(vector, min(k * 3, self.dense.ntotal))  # up to 3 passages an entry
        best: Dict[int, float] = {}
        for score, row in zip(scores[0], ids[0]):
            if row < 0:
                continue
            entry = int(self.rows[row])
            best[entry] = max(best.get(entry, -1.0), float(score))
        return best, vector[0]

    def _add_english(self, dense: Dict[int, float], vector: np.ndarray, k: int) -> None:
        """An English question also meets the procedures' English names: each entry keeps its best cosine."""
        if self.dense_en is None:
            return
        index, numbers = self.dense_en
        scores, rows = index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), min(k, index.ntotal))
        for score, row in zip(scores[0], rows[0]):
            if row >= 0:
                entry = int(numbers[row])
                dense[entry] = max(dense.get(entry, -1.0), float(score))

    def english_lexical(self, query: str) -> np.ndarray:
        """BM25 of an English question over the entries' English names, over its best (0 where an entry has no
        English name); the names are few and short, so their BM25 is built in memory on first use (~0.1 s)."""
        from knowledge.names_en import english_tokens

        if self._bm25_en is None:
            import bm25s

            with self._bm25_en_lock:
                if self._bm25_en is None:
                    # FAQ entries have no English name: a token no question has keeps their row (bm25s wants one)
                    corpus = [english_tokens(e.get("name_en") or "") or ["-"] for e in self.entries]
                    model = bm25s.BM25()
                    model.index(corpus, show_progress=False)
                    self._bm25_en = model
        tokens = english_tokens(query)
        if not tokens:
            return np.zeros(len(self.entries))
        scores = np.asarray(self._bm25_en.get_scores(tokens), dtype=np.float64)
        top = float(scores.max()) if len(scores) else 0.0
        return scores / top if top > 0 else np.zeros(len(self.entries))

    def _bank_scores(self, vector: np.ndarray, tokens: List[str], exclude: Optional[np.ndarray]) -> dict:
        """Question-to-question evidence per entry: best cosine, neighbour vote, best BM25; plus how much closer
        the nearest unanswerable bank question is than the nearest answerable one."""
        n = len(self.entries)
        out = {"best": np.zeros(n), "vote": np.zeros(n), "lex": np.zeros(n), "count": np.zeros(n),
               "unanswerable_margin": 0.0}
        state = self._bank_state  # one snapshot: the live bank may be swapped meanwhile
        if state.parts is None or not state.active.any():
            return out
        vectors, _, bm25 = state.parts
        if exclude is not None and len(exclude) < len(state.active):  # live rows are never excluded
            exclude = np.r_[exclude, np.zeros(len(state.active) - len(exclude), dtype=bool)]
        active = state.active if exclude is None else state.active & ~exclude
        sims = vectors @ vector.astype(np.float32)
        sims = np.where(active, sims, -1.0)
        answerable = active & state.answerable
        rows, starts, owners = state.groups
        if len(rows):
            out["count"][owners] = np.add.reduceat(answerable[rows].astype(np.float64), starts)
            out["best"][owners] = np.maximum(np.maximum.reduceat(np.where(answerable[rows], sims[rows], -1.0),
                                                                 starts), 0.0)
        k = min(BANK_NEIGHBOURS, int(answerable.sum()))
        if k:
            masked = np.where(answerable, sims, -1.0)
            top = np.argpartition(-masked, k - 1)[:k]
            weights = np.exp((masked[top] - masked[top].max()) / BANK_TEMPERATURE)
            np.add.at(out["vote"], state.entry[top], weights / weights.sum())
        unanswerable = active & ~state.answerable
        if unanswerable.any() and answerable.any():
            out["unanswerable_margin"] = float(sims[unanswerable].max() - sims[answerable].max())
        if tokens:
            lex = np.asarray(bm25.get_scores(tokens), dtype=np.float64)
            lex = np.where(answerable, lex, 0.0)
            top_lex = float(lex.max())
            if top_lex > 0 and len(rows):
                out["lex"][owners] = np.maximum.reduceat(lex[rows], starts) / top_lex
        return out

    def score_parts(self, query: str, vector: Optional[np.ndarray] = None,
                    exclude: Optional[np.ndarray] = None) -> Optional[Dict[str, np.ndarray]]:
        """Candidate entry numbers and the raw parts of their score; None when the query names no topic.

        Keys: ``cand`` (entry numbers), ``dense`` (raw cosine), ``lexical``, ``lexical_en`` (English questions:
        BM25 over the English names), ``coverage``, ``alias``,
        ``idf_coverage``, ``missing`` (IDF of the rarest question word the entry lacks, over the largest possible
        IDF), ``variant`` (1 when the entry is an operation variant the question did not ask for), ``operation``
        (1 when its operation was asked), ``bank`` / ``bank_vote`` / ``bank_lex`` (question-to-question
        evidence), ``contrast`` (sibling-contrast features, see knowledge/contrast.py), ``said`` (the question's
        folded topic words, for the ranker's rival features) and query-level values.
        ``exclude`` masks bank rows (the ranker trainer hides a question's own row, or its whole family fold).
        """
        p = self.params
        rq = self.rewrite(query)
        text = rq.lexical
        content = content_words(text)
        if not content:
            return None
        folded = fold(text)
        aliases = self.alias_matcher.best_lengths(folded)
        dense, qvec = self._dense_scores(rq.dense, p.candidates, vector)
        lex_en = None
        if rq.language == "en":
            self._add_english(dense, qvec, p.candidates)
            lex_en = self.english_lexical(rq.original)
        tokens = lexical_tokens(strip_question(text))
        lex_all = self.bm25.get_scores(tokens) if tokens else np.zeros(len(self.entries))
        lex_max = float(lex_all.max()) if len(lex_all) else 0.0
        if lex_max > 0:
            # Partial sort: only the top candidates need ordering (a full argsort dominates at 100k entries).
            k = min(p.candidates, len(lex_all) - 1)
            lex_top = np.argpartition(-lex_all, k)[: k + 1] if k > 0 else np.arange(len(lex_all))
        else:
            lex_top = []
        bank = self._bank_scores(qvec, tokens, exclude)
        bank_top = set(np.flatnonzero(bank["vote"] > 0.01).tolist())
        if bank["best"].any():
            bank_top |= set(np.argpartition(-bank["best"], 20)[:20].tolist()) if len(bank["best"]) > 20 else set()
        # Alias matches and the bank's votes join the candidates even when neither retriever ranked them high.
        en_top = set()
        if lex_en is not None and lex_en.any():
            en_top = set(np.argpartition(-lex_en, 20)[:20].tolist()) if len(lex_en) > 20 else set(range(len(lex_en)))
        cand = np.array(sorted(set(dense) | {int(i) for i in lex_top} | set(aliases) | bank_top | en_top),
                        dtype=np.int64)
        n_content = len(content)
        weights = np.array([self.idf.get(w, self.unknown_idf) for w in content])
        present = np.array([[w in self.syllable_sets[i] for w in content] for i in cand], dtype=np.float64)
        idf_coverage = present @ weights / weights.sum() if weights.sum() > 0 else np.zeros(len(cand))
        asked = np.array([op in rq.operations for op in self.operation_names] or [False], dtype=bool)
        ops = self.entry_ops[cand]
        has_op = ops.any(axis=1)
        matched = (ops & asked[None, :]).any(axis=1)
        asked_values = self.contrasts.asked_values(folded)
        said = set(content)
        contrast = self.contrasts.features(asked_values, {g: m[cand] for g, m in self.entry_contrast.items()})
        return {
            "idf_coverage": idf_coverage.reshape(-1) if len(cand) else np.zeros(0),
            # A question about "chứng chỉ hành nghề dược" is not answered by "... hành nghề thú y": the rarest
            # missing word is the strongest sign of a near miss (and of a topic the KB does not have).
            "missing": ((1.0 - present) * weights[None, :]).max(axis=1) / self.unknown_idf
            if len(cand) else np.zeros(0),
            "variant": (has_op & ~matched).astype(np.float64),
            "operation": matched.astype(np.float64),
            "asked_operation": float(asked.any()),
            "cand": cand,
            "dense": np.array([dense.get(i, 0.0) for i in cand], dtype=np.float64),
            "lexical": lex_all[cand] / lex_max if lex_max > 0 else np.zeros(len(cand)),
            "lexical_en": lex_en[cand] if lex_en is not None else np.zeros(len(cand)),
            "coverage": np.array([sum(w in self.syllable_sets[i] for w in content) for i in cand]) / n_content,
            "name_recall": np.array([self.name_recall(i, said) for i in cand], dtype=np.float64),
            "alias": np.minimum(1.0, np.array([aliases.get(i, 0) for i in cand]) / n_content),
            "bank": bank["best"][cand],
            "bank_vote": bank["vote"][cand],
            "bank_lex": bank["lex"][cand],
            "bank_count": np.minimum(bank["count"][cand], 20) / 20.0,
            "unanswerable_margin": bank["unanswerable_margin"],
            "contrast": contrast,
            "said": said,
            "asked_level": bool(asked_values.get("level")),
            "n_content": n_content,
            "english": float(rq.language == "en"),
            "unaccented": float(rq.language == "vi" and not has_diacritics(query)),
        }

    def name_recall(self, entry: int, said: set) -> float:
        """Share of the entry's name topic words (IDF-weighted) that the question's topic words contain."""
        words, weights, total = self.name_words[entry]
        return sum(wt for w, wt in zip(words, weights) if w in said) / total if total > 0 else 0.0

    def fused(self, parts: Dict[str, np.ndarray]) -> np.ndarray:
        """The hand-tuned linear fusion of the parts (``knowledge/fusion.json``): the baseline and a feature."""
        p = self.params
        d = np.clip((parts["dense"] - p.dense_floor) / p.dense_span, 0.0, 1.0)
        return (
            p.w_dense * d + p.w_lexical * parts["lexical"] + p.w_coverage * parts["coverage"]
            + p.w_alias * parts["alias"] + p.w_idf_coverage * parts["idf_coverage"] - p.w_missing * parts["missing"]
            - p.w_variant * parts["variant"] + p.w_operation * parts["operation"]
        )

    def search(self, query: str, top_k: int = 5, vector: Optional[np.ndarray] = None,
               exclude: Optional[np.ndarray] = None) -> SearchResponse:
        """Rank entries for ``query`` and decide: answer, clarify between siblings, or abstain.

        ``vector`` is the embedding of ``dense_text(query)`` when the caller already has it (benchmarks, batch
        evaluation).
        """
        if self.live is not None:
            self.live.poll(self)  # a clock check; at most every few seconds two stat calls (knowledge/live_bank.py)
        p = self.params
        query = (query or "").strip()
        rq = self.rewrite(query)
        rewritten = rq.lexical if rq.lexical != query else ""
        parts = self.score_parts(query, vector, exclude)
        if parts is None:
            return SearchResponse(query=query, abstain=True, no_topic=True, language=rq.language, rewritten=rewritten)
        fused = self.fused(parts)
        if self.ranker is not None:
            from knowledge.ranker import feature_matrix, shortlisted

            parts, fused = shortlisted(parts, fused)
            probability = self.ranker.score(feature_matrix(self, parts, fused))
            score = probability
        else:
            probability = np.zeros(len(fused))
            score = fused
        cand = parts["cand"]
        d = np.clip((parts["dense"] - p.dense_floor) / p.dense_span, 0.0, 1.0)
        # Hit objects only for the best few (ties broken by code for stable output).
        best = np.argsort(-score, kind="stable")[: max(top_k, 3) + 8]
        hits: List[Hit] = []
        for j in best:
            number = int(cand[j])
            entry = self.entries[number]
            hits.append(
                Hit(entry["code"], entry["name"], entry["kind"], entry.get("url", ""), float(score[j]),
                    float(d[j]), float(parts["lexical"][j]), float(parts["coverage"][j]), float(parts["alias"][j]),
                    float(parts["idf_coverage"][j]), float(parts["missing"][j]), float(parts["variant"][j]),
                    float(parts["operation"][j]), float(parts["bank"][j]), float(probability[j]),
                    self.entry_family[number], self.entry_level[number], float(parts["bank_count"][j]))
            )
        hits.sort(key=lambda h: (-round(h.score, 9), h.code))
        local = False
        if not parts["asked_level"]:
            hits, local = prefer_local_level(hits)
        if self.ranker is not None:
            confidence, top3, decision = self.ranker.decide(parts, hits)
            suggestions = ([h for h in hits if h.kind == "procedure"][: p.suggest_count]
                           if decision == "abstain" and top3 >= self.ranker.suggest_above else [])
        else:
            confidence = hits[0].score if hits else 0.0
            abstain = not hits or hits[0].score < p.abstain_below
            ambiguous = not abstain and len(hits) > 1 and hits[0].score - hits[1].score < p.ambiguous_margin
            decision = "abstain" if abstain else ("clarify" if ambiguous else "answer")
            suggestions = ([h for h in hits if h.kind == "procedure" and h.score >= p.suggest_above][: p.suggest_count]
                           if abstain else [])
        approved = self._bank_state.approved.get(wording_key(query)) if self._bank_state.approved else None
        if approved is not None:
            # A supervisor linked this very wording to this procedure (review queue): it is the answer.
            hits = self._approved_first(approved, hits)
            confidence, decision, suggestions, local = 1.0, "answer", [], False
        return SearchResponse(query=query, abstain=decision == "abstain", ambiguous=decision == "clarify",
                              results=hits[: max(top_k, 1)], language=rq.language, rewritten=rewritten,
                              suggestions=suggestions, confidence=float(confidence), decision=decision,
                              local_variant=local, approved=approved is not None)

    def _approved_first(self, number: int, hits: List[Hit]) -> List[Hit]:
        """``hits`` with the entry ``number`` first (its ranked hit, or a new one with the top score)."""
        entry = self.entries[number]
        top = next((h for h in hits if h.code == entry["code"]), None)
        if top is None:
            top = Hit(entry["code"], entry["name"], entry["kind"], entry.get("url", ""),
                      hits[0].score if hits else 1.0, family=self.entry_family[number],
                      level=self.entry_level[number])
        return [top] + [h for h in hits if h is not top]


def prefer_local_level(hits: List[Hit], close: float = 0.5) -> tuple:
    """When the top hits are one procedure at several levels and the question names none, put first the level a
    resident of the province deals with (:data:`LEVEL_PREFERENCE`). Returns ``(hits, reordered?)``."""
    if len(hits) < 2 or hits[0].kind != "procedure":
        return hits, False
    top = hits[0]
    floor = top.score * close
    variants = [h for h in hits[:5] if h.family == top.family and h.score >= floor and h.kind == "procedure"
                and _same_but_level(h.name, top.name)]
    if len(variants) < 2:
        return hits, False
    best = min(variants, key=lambda h: (LEVEL_PREFERENCE.get(h.level, 9), -h.score))
    if best is top:
        return hits, False
    reordered = [best] + [h for h in hits if h is not best]
    # The preferred variant takes the top score so the decision reads the same evidence.
    best_score = top.score
    best.score, best.probability = best_score, max(best.probability, top.probability)
    return reordered, True


def _same_but_level(a: str, b: str) -> bool:
    """Two names that are equal once their level phrase and punctuation are removed."""
    from knowledge.bank import level_free_key

    return level_free_key(a) == level_free_key(b)


@lru_cache(maxsize=1)
def get_searcher() -> Searcher:
    """The process-wide searcher for the configured index and encoder (loaded once)."""
    from knowledge.encoder import encoder_from_config
    from settings import get_settings

    settings = get_settings()
    live = None
    if settings.review_live_poll_s > 0:  # approved review-queue questions join the bank within seconds
        from knowledge.live_bank import LiveBank

        live = LiveBank(settings.review_approved_file, settings.review_live_dir, settings.review_live_poll_s)
    # KB_BANK_SPLITS (empty = every split votes): the dialogue evaluation hides the bank's test split.
    return Searcher(settings.index_dir, encoder_from_config(settings.encoder),
                    bank_splits=settings.kb_bank_splits or None, live=live)
