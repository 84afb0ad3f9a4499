"""The learned ranker and the calibrated decision, trained from the question bank's train split.

- **Ranker**: a gradient-boosted classifier (scikit-learn ``HistGradientBoostingClassifier``) over the score parts
  of every candidate (dense, BM25, word coverage, aliases, question-to-question evidence, operation and
  sibling-contrast features, each also relative to the best candidate) replaces the hand-tuned linear fusion; its
  probability ranks the candidates.
- **Decision**: a logistic model over the ranked list (top probabilities, margins, agreement of the signals, how
  close the nearest *unanswerable* bank question is) gives the probability that the top procedure is right and a
  second one that the right procedure is in the top 3. Both are fitted on out-of-fold ranker outputs (5 folds by
  procedure family), so they are calibrated on questions the ranker did not see. One of their inputs says whether
  the top procedure has bank questions in the index (``bank_known1``): without it the two training conditions below
  blur into one calibration, too low for the deployed bot, where every procedure has them. Thresholds: answer when
  the first is at least ``answer_above`` (chosen so that wrong-confident stays at most
  :data:`WRONG_CONFIDENT_BUDGET` out of fold over the training questions asked with their procedure's other bank
  questions visible, as the deployed bot is asked, and on the strangers' calibration set, questions on train
  families written apart from the bank: :func:`strangers_calibration`); ask between siblings when
  the top two are siblings (one family, or nested names: :func:`knowledge.bank.are_siblings`) and the top-3
  probability is at least ``clarify_above``; otherwise abstain, offering the top 3
  as suggestions when the second is at least ``suggest_above``.

Training conditions imitate the two situations the deployed bot meets: a question about a procedure whose other
bank questions are indexed (its own row hidden) and a question about a family with no bank question at all (its
whole fold hidden), half of the questions each (seeded). The booster is held monotone in every evidence feature
(:data:`MONOTONE`): unconstrained, it learned from these conditions that a moderate bank match marks a wrong
candidate and that a procedure without bank questions is the answer, both false for a stranger's question.
``python -m knowledge build`` trains it after the index (``ranker.pkl`` + ``ranker.json`` in the index folder,
stamped), or installs the committed one (``knowledge/data/ranker/``, trained by ``make train-ranker`` on the same
sources and encoder: :func:`install_committed`); ``python -m knowledge train-ranker`` reruns the training.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from knowledge.bank import are_siblings

FEATURE_VERSION = 7  # 2: monotonic constraints; 3: decision knows whether the top has bank questions;
# 4: name-side recall; 5: English questions' BM25 over the English names; 6: nested names are siblings;
# 7: each candidate read against its strongest rival (rival_features)
SEED = 2026
FOLDS = 5
COMMITTED_DIR = "ranker"  # knowledge/data/ranker/: the ranker of `make train-ranker` (see install_committed)
SHORTLIST_FUSED = 40  # candidates the ranker sees: the best by the linear fusion ...
SHORTLIST_BANK = 10  # ... and the best by question-to-question evidence (same rule in training and search)
WRONG_CONFIDENT_BUDGET = 0.025  # out of fold, over all train questions (target on the test split: <= 0.03)
# Share of training questions whose procedure's other bank questions stay visible (own row hidden); the rest are
# asked with their whole family fold of the bank hidden. With the constraints of :data:`MONOTONE` (measured, hit@1
# dev / held-out as deployed, bank test split): 0.945 / 0.682 / 0.723 at 0.5 and 0.942 / 0.635 / 0.724 at 0, against
# 0.899 / 0.647 / 0.829 without constraints (its test number rode the bank_count cue).
SEEN_SHARE = 0.5
CLARIFY_PRECISION = 0.80  # share of clarifications whose options hold the right procedure
BASE_FEATURES = (
    "dense", "dense_rel", "dense_rank", "lexical", "lexical_rank", "coverage", "idf_coverage", "missing", "alias",
    "variant", "operation", "asked_operation", "bank", "bank_rel", "bank_rank", "bank_vote", "bank_lex",
    "bank_count", "fused", "fused_rel", "fused_rank", "name_words", "is_faq", "unanswerable_margin",
    "n_content", "english", "unaccented", "local_level", "name_recall", "name_recall_rel", "lexical_en",
    "lexical_en_rank", "distinct_said", "distinct_unsaid", "rival_said",
)
DECISION_FEATURES = (
    "p1", "p2", "p1_minus_p2", "share1", "log_p1", "dense1", "bank1", "lex1", "idf1", "missing1", "alias1",
    "score_gap", "unanswerable_margin", "n_content", "english", "unaccented", "siblings12", "is_faq1",
    "agree_dense", "agree_bank", "bank_known1",
)


def _rank(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, 1 for the next ... (ties share the order of a stable sort), as log1p."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return np.log1p(ranks)


def shortlist(parts: Dict[str, np.ndarray], fused: np.ndarray) -> np.ndarray:
    """Positions of the candidates the ranker scores: the best by the linear fusion, by the bank's evidence and,
    for an English question, by BM25 over the English names.

    Training sees exactly these (a candidate outside them never gets a probability), so the ranker is never asked
    about candidates unlike those it was trained on."""
    keep = np.argsort(-fused, kind="stable")[:SHORTLIST_FUSED]
    if parts["bank"].any():
        keep = np.union1d(keep, np.argsort(-parts["bank"], kind="stable")[:SHORTLIST_BANK])
        keep = np.union1d(keep, np.argsort(-parts["bank_vote"], kind="stable")[:SHORTLIST_BANK])
    if parts["lexical_en"].any():  # an English question: the best by BM25 over the English names too
        keep = np.union1d(keep, np.argsort(-parts["lexical_en"], kind="stable")[:SHORTLIST_BANK])
    return np.sort(keep)


def shortlisted(parts: Dict[str, np.ndarray], fused: np.ndarray) -> tuple:
    """``(parts, fused)`` cut to the :func:`shortlist`: features relative to the list (``dense_rel``,
    ``name_recall_rel``...) are computed over exactly these candidates, in training as in search."""
    keep = shortlist(parts, fused)
    n = len(parts["cand"])
    cut = {k: (v[keep] if isinstance(v, np.ndarray) and v.ndim and len(v) == n else v) for k, v in parts.items()}
    return cut, fused[keep]


# Direction of each feature's effect that the ranker must respect (+1: more of it never lowers a candidate's
# probability, -1: never raises it, 0: free). Without them the booster learned, from questions whose own
# paraphrases vote, that a *moderate* bank match marks a wrong candidate: a stranger's right procedure with the
# best bank rank and vote then scored below a candidate with no evidence at all (held-out h017, h032).
MONOTONE = {
    "dense": 1, "dense_rel": 1, "dense_rank": -1, "lexical": 1, "lexical_rank": -1, "coverage": 1,
    "idf_coverage": 1, "missing": -1, "alias": 1, "variant": -1, "operation": 1, "bank": 1, "bank_rel": 1,
    "bank_rank": -1, "bank_vote": 1, "bank_lex": 1, "fused": 1, "fused_rel": 1, "fused_rank": -1,
    "name_recall": 1, "name_recall_rel": 1, "lexical_en": 1, "lexical_en_rank": -1,
    "distinct_said": 1, "distinct_unsaid": -1, "rival_said": -1,
    # Free, the number of a procedure's bank questions marks the family hidden in training (0 there, > 0 for nearly
    # every other candidate): the booster learned "no bank question = the answer", worth 10 points on the bank's
    # test split (whose families have none indexed) and a fall to 0.23 hit@1 on dev scored with train questions.
    "bank_count": 1,
}
MONOTONE_CONTRAST = {"match": 1, "conflict": -1}  # per contrast group (knowledge/contrast.py: PER_GROUP)


def monotonic_constraints(names: Sequence[str]) -> List[int]:
    """The constraint of every feature in ``names`` (see :data:`MONOTONE`)."""
    out = []
    for name in names:
        if name in MONOTONE:
            out.append(MONOTONE[name])
        else:
            part = name.rsplit("_", 1)[-1]
            out.append(MONOTONE_CONTRAST.get(part, 0) if name not in BASE_FEATURES else 0)
    return out


def feature_names(searcher) -> List[str]:
    return list(BASE_FEATURES) + searcher.contrasts.feature_names


def rival_features(searcher, cand: np.ndarray, fused: np.ndarray, said: set) -> np.ndarray:
    """``candidates x 3``: each candidate's name read against its strongest rival's, through the question's words.

    The rival of a candidate is the list's leader by the linear fusion (the leader's rival is the runner-up). Of
    the words only the candidate's name has (IDF-weighted, over the largest IDF): ``distinct_said``, those the
    question says, and ``distinct_unsaid``, those it does not; ``rival_said``: the words only the rival's name has
    that the question says. "Phê duyệt điều chỉnh kế hoạch bảo trì" against "Phê duyệt kế hoạch bảo trì" is
    decided by whether the citizen said "điều chỉnh"; the absolute parts (``name_recall``, ``missing``) cannot see
    that both names share everything else."""
    n = len(cand)
    out = np.zeros((n, 3))
    if n < 2:
        return out
    order = np.argsort(-fused, kind="stable")
    leader, runner = int(order[0]), int(order[1])
    scale = float(searcher.unknown_idf) or 1.0
    words = []
    for number in cand:
        names, weights, _ = searcher.name_words[int(number)]
        words.append(dict(zip(names, weights)))
    for j in range(n):
        own, rival = words[j], words[runner if j == leader else leader]
        for word, weight in own.items():
            if word not in rival:
                out[j, 0 if word in said else 1] += weight
        out[j, 2] = sum(weight for word, weight in rival.items() if word not in own and word in said)
    return out / scale


def feature_matrix(searcher, parts: Dict[str, np.ndarray], fused: np.ndarray) -> np.ndarray:
    """``candidates x features`` in the order of :func:`feature_names`."""
    cand = parts["cand"]
    n = len(cand)

    def rel(values: np.ndarray) -> np.ndarray:
        return values - (values.max() if n else 0.0)

    levels = [searcher.entry_level[i] for i in cand]
    columns = [
        parts["dense"], rel(parts["dense"]), _rank(parts["dense"]), parts["lexical"], _rank(parts["lexical"]),
        parts["coverage"], parts["idf_coverage"], parts["missing"], parts["alias"], parts["variant"],
        parts["operation"], np.full(n, parts["asked_operation"]), parts["bank"], rel(parts["bank"]),
        _rank(parts["bank"]), parts["bank_vote"], parts["bank_lex"], parts["bank_count"], fused, rel(fused),
        _rank(fused), np.log1p(searcher.entry_words[cand]), searcher.entry_is_faq[cand],
        np.full(n, parts["unanswerable_margin"]), np.full(n, np.log1p(parts["n_content"])),
        np.full(n, parts["english"]), np.full(n, parts["unaccented"]),
        np.array([level in ("xa", "tinh", "") for level in levels], dtype=np.float64),
        parts["name_recall"], rel(parts["name_recall"]), parts["lexical_en"],
        _rank(parts["lexical_en"]) if parts["english"] else np.zeros(n),
    ]
    base = np.hstack([np.stack(columns, axis=1), rival_features(searcher, cand, fused, parts["said"])])
    return np.hstack([base, parts["contrast"]]) if parts["contrast"].size else base


def decision_features(parts: Dict[str, np.ndarray], hits: Sequence) -> np.ndarray:
    """One row describing the ranked list (see :data:`DECISION_FEATURES`)."""
    probs = [h.probability for h in hits[:5]] + [0.0] * 5
    p1, p2 = probs[0], probs[1]
    total = sum(probs[:5]) or 1.0
    top = hits[0] if hits else None
    second = hits[1] if len(hits) > 1 else None

    def by(name: str) -> float:
        return float(getattr(top, name, 0.0)) if top is not None else 0.0

    dense_best = max((h.dense for h in hits[:10]), default=0.0)
    bank_best = max((h.bank for h in hits[:10]), default=0.0)
    return np.array([
        p1, p2, p1 - p2, p1 / total, float(np.log(max(p1, 1e-6))), by("dense"), by("bank"),
        by("lexical"), by("idf_coverage"), by("missing"), by("alias"),
        by("score") - (second.score if second is not None else 0.0),
        parts["unanswerable_margin"], float(np.log1p(parts["n_content"])), parts["english"], parts["unaccented"],
        float(second is not None and top is not None and are_siblings(top, second)),
        float(top is not None and top.kind == "faq"),
        float(top is not None and by("dense") >= dense_best - 1e-9),
        float(top is not None and by("bank") >= bank_best - 1e-9),
        float(by("bank_count") > 0),
    ], dtype=np.float64)


class Ranker:
    """The trained models and thresholds; :meth:`score` ranks, :meth:`decide` decides."""

    def __init__(self, model, decision, top3, thresholds: dict, meta: dict) -> None:
        """``model`` ranks candidates; ``decision`` / ``top3`` are calibrated logistic models on decision rows."""
        self.model = model
        self.decision = decision
        self.top3 = top3
        self.answer_above = float(thresholds["answer_above"])
        self.clarify_above = float(thresholds["clarify_above"])
        self.suggest_above = float(thresholds["suggest_above"])
        self.meta = meta
        self._runtime()

    def _runtime(self) -> None:
        self._pool = None  # threadpoolctl controller: finding the OpenMP library costs ~10 ms, so once per process
        self._linear = {id(m): linear_form(m) for m in (self.decision, self.top3)}

    def __getstate__(self) -> dict:
        """Pickled without the per-process helpers (rebuilt on load)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_pool", "_linear")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._runtime()

    def score(self, features: np.ndarray) -> np.ndarray:
        """Probability per candidate. One OpenMP thread: scikit-learn's per-tree parallel loop costs ~100 ms on a
        busy 2-core machine for 50 rows, one thread ~6 ms (measured)."""
        if not len(features):
            return np.zeros(0)
        if self._pool is None:
            from threadpoolctl import ThreadpoolController

            self._pool = ThreadpoolController()
        with self._pool.limit(limits=1, user_api="openmp"):
            return self.model.predict_proba(features)[:, 1]

    def probabilities(self, row: np.ndarray) -> tuple:
        """``(p_top1_right, p_right_in_top3)`` for one decision row (numpy: scikit-learn's input checks cost
        ~2 ms per call, more than the models)."""
        row = np.asarray(row, dtype=np.float64).reshape(-1)
        return tuple(_logistic(self._linear[id(m)], row) for m in (self.decision, self.top3))

    def decide(self, parts: Dict[str, np.ndarray], hits: Sequence) -> tuple:
        """``(confidence, p_top3, decision)`` with decision ``answer`` / ``clarify`` / ``abstain``."""
        if not hits:
            return 0.0, 0.0, "abstain"
        p1, p3 = self.probabilities(decision_features(parts, hits))
        return p1, p3, choose(p1, p3, hits, self.answer_above, self.clarify_above)


def choose(p1: float, p3: float, hits: Sequence, answer_above: float, clarify_above: float) -> str:
    """The decision rule shared by the searcher and the threshold search."""
    if p1 >= answer_above:
        return "answer"
    if len(hits) > 1 and are_siblings(hits[0], hits[1]) and p3 >= clarify_above:
        return "clarify"
    return "abstain"


# -- persistence ---------------------------------------------------------------------------------------------
def stamp(index_dir: Path) -> str:
    """What the ranker of ``index_dir`` depends on: :func:`source_stamp` and the index's build time."""
    from knowledge.index import read_config

    config = read_config(index_dir) or {}
    return _digest([config.get("source_hash"), config.get("model"), config.get("built_at")])


def source_stamp(index_dir: Path) -> str:
    """:func:`stamp` without the build time: the same for every build of the same sources with the same encoder,
    so a ranker trained on one of them (the committed one, :func:`install_committed`) serves the others."""
    from knowledge.index import read_config

    config = read_config(index_dir) or {}
    return source_stamp_for(config.get("source_hash"), config.get("model"))


def source_stamp_for(source_hash: Optional[str], model: Optional[str]) -> str:
    """:func:`source_stamp` of an index built from ``source_hash`` with the encoder named ``model``."""
    return _digest([source_hash, model])


def _digest(index_fields: list) -> str:
    """The index's fields, this module's version, seed and code (and the contrast reader's), the index format and
    accent model versions, and the tables and sets the features read."""
    from knowledge.accents import MODEL_VERSION as ACCENTS_VERSION
    from knowledge.index import INDEX_VERSION
    from knowledge.store import data_dir

    digest = hashlib.sha256()
    # The accent model restores the questions the dense features embed.
    digest.update(json.dumps(index_fields + [FEATURE_VERSION, SEED, INDEX_VERSION, ACCENTS_VERSION]).encode())
    data = data_dir()
    for name in ("contrasts.yml", "synonyms.yml", "glossary_en.yml", "questions/strangers/calibration.jsonl"):
        path = data / name
        if path.exists():
            digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(Path(__file__).with_name("contrast.py").read_bytes())  # reads the contrast features' values
    return digest.hexdigest()


def is_stale(index_dir: Path) -> bool:
    meta_path = Path(index_dir) / "ranker.json"
    if not meta_path.exists() or not (Path(index_dir) / "ranker.pkl").exists():
        return True
    try:
        return json.loads(meta_path.read_text(encoding="utf-8")).get("stamp") != stamp(index_dir)
    except ValueError:
        return True


def carry_over(index_dir: Path, reason: str) -> bool:
    """Re-stamp the ranker of ``index_dir`` for its updated index without retraining (False when it has none).

    For a handful of added, removed or changed procedures (knowledge/refresh.py): the ranker scores candidates by
    their score parts (dense, BM25, coverage, bank evidence, ...), never by procedure identity, and the question
    bank it was trained on is unchanged, so its model and thresholds still apply. ``ranker.json`` records each
    carry-over; ``python -m knowledge train-ranker`` retrains when the changes are many.
    """
    meta_path = Path(index_dir) / "ranker.json"
    if not meta_path.exists() or not (Path(index_dir) / "ranker.pkl").exists():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.setdefault("carried_over", []).append(
        {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reason": reason, "from_stamp": meta.get("stamp")})
    meta["stamp"] = stamp(index_dir)
    _write_meta(meta_path, meta)
    return True


def linear_form(model) -> tuple:
    """``(mean, scale, coef, intercept)`` of a fitted StandardScaler + LogisticRegression pipeline."""
    scaler, logistic = model.steps[0][1], model.steps[-1][1]
    return (np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64),
            np.asarray(logistic.coef_[0], dtype=np.float64), float(logistic.intercept_[0]))


def _logistic(form: tuple, row: np.ndarray) -> float:
    mean, scale, coef, intercept = form
    return float(1.0 / (1.0 + np.exp(-(((row - mean) / scale) @ coef + intercept))))


def load_ranker(index_dir: Path) -> Optional[Ranker]:
    """The index's ranker, or None when it has none (the searcher then uses the linear fusion)."""
    import logging

    path = Path(index_dir) / "ranker.pkl"
    if not path.exists():
        return None
    if is_stale(index_dir):
        logging.getLogger(__name__).warning("The ranker in %s is stale: run `make build-index`.", index_dir)
    with open(path, "rb") as handle:
        # Written by train_for_index beside the index, or copied there from this repository's own committed ranker
        # (install_committed); never downloaded.
        return pickle.load(handle)  # noqa: S301


def save_ranker(index_dir: Path, ranker: Ranker, report: dict) -> None:
    index_dir = Path(index_dir)
    tmp = index_dir / "ranker.pkl.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump(ranker, handle)
    tmp.replace(index_dir / "ranker.pkl")
    _write_meta(index_dir / "ranker.json", report)


def _write_meta(path: Path, meta: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


# -- the committed ranker ------------------------------------------------------------------------------------
# Training takes a quarter of an hour or more on 2 cores (every train question of the bank searched once), so the
# ranker `make train-ranker` trains on the default index is committed (knowledge/data/ranker/, ~1 MB) and a build
# of the same sources with the same encoder installs it instead of training again; any other build trains its own.
def committed_dir() -> Path:
    from knowledge.store import data_dir

    return data_dir() / COMMITTED_DIR


def committed_meta() -> Optional[dict]:
    """The committed ranker's ``ranker.json``, or None when there is none (or it is unreadable)."""
    folder = committed_dir()
    if not (folder / "ranker.pkl").exists():
        return None
    try:
        return json.loads((folder / "ranker.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def install_committed(index_dir: Path) -> bool:
    """Install the committed ranker into ``index_dir`` when it was trained on the same sources and encoder."""
    meta = committed_meta()
    if meta is None or meta.get("source_stamp") != source_stamp(index_dir):
        return False
    index_dir = Path(index_dir)
    tmp = index_dir / "ranker.pkl.tmp"
    shutil.copyfile(committed_dir() / "ranker.pkl", tmp)
    tmp.replace(index_dir / "ranker.pkl")
    meta["stamp"] = stamp(index_dir)
    meta["installed_from"] = f"knowledge/data/{COMMITTED_DIR}"
    _write_meta(index_dir / "ranker.json", meta)
    return True


def commit(index_dir: Path) -> Path:
    """Copy the ranker trained for ``index_dir`` into the committed folder (its meta keeps the source stamp)."""
    index_dir = Path(index_dir)
    if is_stale(index_dir):
        raise ValueError(f"The ranker in {index_dir} is stale: train it first.")
    meta = json.loads((index_dir / "ranker.json").read_text(encoding="utf-8"))
    meta["source_stamp"] = source_stamp(index_dir)
    folder = committed_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(index_dir / "ranker.pkl", folder / "ranker.pkl")
    _write_meta(folder / "ranker.json", meta)
    return folder


# -- training ------------------------------------------------------------------------------------------------
def _fold_of(key: str) -> int:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % FOLDS


def collect(searcher, questions: Sequence, log: Callable[[str], None] = print,
            seen_share: Optional[float] = None) -> List[dict]:
    """Run every train question through the candidate generator under its training condition.

    Returns per question: shortlisted candidate features and labels, the parts the decision rows need, the fold.
    """
    from knowledge.index import encode_sorted

    seen_share = SEEN_SHARE if seen_share is None else seen_share
    rng = np.random.default_rng(SEED)
    vectors, rows, _ = searcher.bank
    row_of = {}
    for number, row in enumerate(rows):
        row_of.setdefault((row["code"], row["q"]), number)
    fold_of_row = np.array([_fold_of(_family_key(searcher, r)) for r in rows])
    started = time.time()
    # A train question in the index's bank was embedded exactly as a citizen's question is (bank_text_function):
    # its stored vector is reused; only questions the bank lacks are encoded.
    owns = [row_of.get((q.code, q.q)) for q in questions]
    missing = [n for n, own in enumerate(owns) if own is None]
    encoded = np.zeros((len(questions), vectors.shape[1]), dtype=vectors.dtype)
    found = [n for n, own in enumerate(owns) if own is not None]
    if found:
        encoded[found] = vectors[[owns[n] for n in found]]
    if missing:
        encoded[missing] = encode_sorted(searcher.encoder, [searcher.dense_text(questions[n].q) for n in missing],
                                         queries=True)
    log(f"  {len(found)} train questions' vectors from the bank, {len(missing)} encoded in "
        f"{time.time() - started:.0f} s")
    items = []
    started = time.time()
    for number, q in enumerate(questions):
        fold = _fold_of(q.family if q.code else "unanswerable:" + q.q)
        exclude = np.zeros(len(rows), dtype=bool)
        own = row_of.get((q.code, q.q))
        seen = bool(rng.random() < seen_share)
        if not seen:  # "unseen": the question's whole family fold is hidden
            exclude |= fold_of_row == fold
        if own is not None:
            exclude[own] = True
        parts = searcher.score_parts(q.q, encoded[number], exclude)
        if parts is None:
            continue
        parts, fused = shortlisted(parts, searcher.fused(parts))
        codes = [searcher.entries[i]["code"] for i in parts["cand"]]
        labels = np.array([c == q.code for c in codes], dtype=np.int8)
        items.append({"features": feature_matrix(searcher, parts, fused), "labels": labels, "parts": _slim(parts),
                      "cand": parts["cand"], "fold": fold, "code": q.code, "seen": seen})
        if number and number % 2000 == 0:
            log(f"  {number}/{len(questions)} questions ({time.time() - started:.0f} s)")
    return items


def _family_key(searcher, row: dict) -> str:
    if row["code"] is None:
        return "unanswerable:" + row["q"]
    number = searcher.by_code.get(row["code"])
    return searcher.entry_family[number] if number is not None else row["code"]


def _slim(parts: dict) -> dict:
    return {k: parts[k] for k in ("unanswerable_margin", "n_content", "english", "unaccented")}


def _fit_ranker(items: Sequence[dict], constraints: Sequence[int]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.vstack([it["features"] for it in items])
    y = np.concatenate([it["labels"] for it in items])
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.08, max_leaf_nodes=31,
                                           min_samples_leaf=40, l2_regularization=1.0, random_state=SEED,
                                           monotonic_cst=list(constraints))
    model.fit(X, y)
    return model


class _Hit:  # the few fields decision_features and choose read
    __slots__ = ("probability", "score", "dense", "bank", "bank_count", "lexical", "idf_coverage", "missing", "alias",
                 "family", "kind", "code", "name")

    def __init__(self, **kw) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def ranked_hits(searcher, item: dict, probability: np.ndarray) -> List[_Hit]:
    """The top 10 of one collected question, ranked by ``probability`` (like :meth:`Searcher.search`)."""
    f = item["features"]
    names = feature_names(searcher)
    col = {n: names.index(n) for n in ("dense", "bank", "bank_count", "lexical", "idf_coverage", "missing", "alias")}
    order = np.argsort(-probability, kind="stable")[:10]
    p = searcher.params
    hits = []
    for j in order:
        number = int(item["cand"][j])
        entry = searcher.entries[number]
        dense = float(np.clip((f[j, col["dense"]] - p.dense_floor) / p.dense_span, 0, 1))
        hits.append(_Hit(probability=float(probability[j]), score=float(probability[j]), dense=dense,
                         bank=float(f[j, col["bank"]]), bank_count=float(f[j, col["bank_count"]]),
                         lexical=float(f[j, col["lexical"]]), idf_coverage=float(f[j, col["idf_coverage"]]),
                         missing=float(f[j, col["missing"]]), alias=float(f[j, col["alias"]]),
                         family=searcher.entry_family[number], kind=entry["kind"], code=entry["code"],
                         name=entry["name"]))
    return hits


def _decision_rows(searcher, items: Sequence[dict], models_by_fold) -> tuple:
    rows, right1, right3, hits_all = [], [], [], []
    for it in items:
        model = models_by_fold(it["fold"])
        probability = model.predict_proba(it["features"])[:, 1]
        hits = ranked_hits(searcher, it, probability)
        rows.append(decision_features(it["parts"], hits))
        codes = [h.code for h in hits]
        right1.append(bool(it["code"]) and codes[:1] == [it["code"]])
        right3.append(bool(it["code"]) and it["code"] in codes[:3])
        hits_all.append(hits)
    return np.array(rows), np.array(right1), np.array(right3), hits_all


def _fit_calibrator(rows: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(rows, labels.astype(int))
    return model


def lowest_answer_threshold(p1: np.ndarray, wrong: np.ndarray) -> float:
    """The lowest threshold (from 0.98 down in steps of 0.01, stopping at the first that breaks the budget) whose
    answers to wrong procedures stay at most :data:`WRONG_CONFIDENT_BUDGET` of all questions; 1.0 when none does.
    ``wrong``: per question, answering it would answer a wrong procedure (or an unanswerable question)."""
    n = max(len(p1), 1)
    answer_above = 1.0
    for t in np.round(np.arange(0.30, 0.99, 0.01), 2)[::-1]:
        if np.sum((p1 >= t) & wrong) / n <= WRONG_CONFIDENT_BUDGET:
            answer_above = float(t)
        else:
            break
    return answer_above


def strangers_calibration(searcher, ranker: "Ranker", log: Callable[[str], None] = print) -> Optional[dict]:
    """The answer threshold the strangers' calibration set (``questions/strangers/calibration.jsonl``: questions on
    train families written apart from the bank) asks for, by the same budget rule as out of fold, with
    ``searcher`` and ``ranker``; None when the set is missing or smaller than the validator's minimum
    (:data:`knowledge.bank.MIN_STRANGERS`).

    Out of fold, a training question is asked with its procedure's other bank questions visible, written in the
    same batch from the same summary; a citizen's question is not, so the out-of-fold threshold could be too low
    for strangers. The deployed threshold is the higher of the two (:func:`train_for_index`): the strangers' set can
    only raise it. It does not lower it either, although it would allow that: measured in stop 35, its own bar
    (0.78 against 0.86 out of fold) answered 0.531 of it right with 2.3 % wrong, but through the bot on the
    strangers' test set (test families) 5.0 % of the answers were wrong (3.3 % at 0.86) and on the bank's test
    split 4.1 % (1.9 %): a train family's stranger is not a test family's."""
    from knowledge.bank import MIN_STRANGERS, load_strangers

    records = load_strangers("calibration")
    if len(records) < MIN_STRANGERS["calibration"]:
        return None
    previous, searcher.ranker = searcher.ranker, ranker
    try:
        p1, right = [], []
        for record in records:
            response = searcher.search(record["q"])
            top = response.results[0].code if response.results else None
            p1.append(0.0 if response.no_topic or top is None else float(response.confidence))
            right.append(top in record["expected"])  # never for an unanswerable question (expected is [])
    finally:
        searcher.ranker = previous
    p1, right = np.array(p1), np.array(right, dtype=bool)
    wrong = ~right
    answer_above = lowest_answer_threshold(p1, wrong)
    answerable = max(sum(1 for r in records if r["expected"]), 1)

    def at(threshold: float) -> dict:
        answered = p1 >= threshold
        return {"answered_right": float(np.sum(answered & right) / answerable),
                "wrong_confident": float(np.sum(answered & wrong) / len(records))}

    result = {"n": len(records), "answer_above": answer_above, "hit@1": float(right.sum() / answerable),
              "at_strangers_threshold": at(answer_above), "at_out_of_fold_threshold": at(ranker.answer_above)}
    log(f"  strangers' calibration set ({len(records)}): its own answer bar {answer_above} "
        f"(out of fold {ranker.answer_above}): {result}")
    return result


def choose_thresholds(p1: np.ndarray, p3: np.ndarray, right1: np.ndarray, right3: np.ndarray,
                      hits_all: Sequence) -> dict:
    """Answer threshold: the lowest whose out-of-fold wrong-confident rate stays within the budget (so the answer
    rate is highest); clarify threshold: the lowest whose clarifications hold the right procedure in their options
    at least :data:`CLARIFY_PRECISION` of the time; suggestions from the same top-3 probability at half that."""
    answer_above = lowest_answer_threshold(p1, ~right1)
    clarify_above = 1.0
    not_answered = p1 < answer_above
    siblings = np.array([len(h) > 1 and are_siblings(h[0], h[1]) for h in hits_all])
    for t in np.round(np.arange(0.20, 0.99, 0.01), 2)[::-1]:
        chosen = not_answered & siblings & (p3 >= t)
        if chosen.sum() and right3[chosen].mean() >= CLARIFY_PRECISION:
            clarify_above = float(t)
        elif chosen.sum() >= 20:
            break
    return {"answer_above": answer_above, "clarify_above": clarify_above,
            "suggest_above": round(min(0.5, clarify_above / 2), 2)}


def outcomes(p1, p3, right1, right3, hits_all, thresholds: dict, answerable: np.ndarray) -> dict:
    """answered-right / wrong-confident / clarified / abstained shares under ``thresholds``."""
    decisions = [choose(a, b, h, thresholds["answer_above"], thresholds["clarify_above"])
                 for a, b, h in zip(p1, p3, hits_all)]
    decisions = np.array(decisions)
    n = len(decisions)
    return {
        "n": int(n),
        "answered_right": float(np.sum((decisions == "answer") & right1) / max(answerable.sum(), 1)),
        "wrong_confident": float(np.sum((decisions == "answer") & ~right1) / n),
        "clarify": float(np.mean(decisions == "clarify")),
        "abstain": float(np.mean(decisions == "abstain")),
        "hit@1": float(right1[answerable].mean()) if answerable.any() else 0.0,
        "hit@3": float(right3[answerable].mean()) if answerable.any() else 0.0,
    }


def train(searcher, questions: Sequence, log: Callable[[str], None] = print) -> tuple:
    """Fit ranker, calibrated decision and thresholds on ``questions`` (the bank's train split)."""
    started = time.time()
    items = collect(searcher, questions, log)
    log(f"  collected {len(items)} questions in {time.time() - started:.0f} s")
    constraints = monotonic_constraints(feature_names(searcher))
    fold_models = {}
    for fold in range(FOLDS):
        fold_models[fold] = _fit_ranker([it for it in items if it["fold"] != fold], constraints)
        log(f"  ranker fold {fold + 1}/{FOLDS} ({time.time() - started:.0f} s)")
    rows, right1, right3, hits_all = _decision_rows(searcher, items, lambda f: fold_models[f])
    answerable = np.array([bool(it["code"]) for it in items])
    # Calibrators out of fold too, so the thresholds are chosen on probabilities of unseen questions.
    folds = np.array([it["fold"] for it in items])
    p1 = np.zeros(len(items))
    p3 = np.zeros(len(items))
    for fold in range(FOLDS):
        train_mask = folds != fold
        cal1 = _fit_calibrator(rows[train_mask], right1[train_mask])
        cal3 = _fit_calibrator(rows[train_mask], right3[train_mask])
        p1[~train_mask] = cal1.predict_proba(rows[~train_mask])[:, 1]
        p3[~train_mask] = cal3.predict_proba(rows[~train_mask])[:, 1]
    # Thresholds on the questions asked as the deployed bot is asked: the procedure's other bank questions visible
    # (every procedure has some). Chosen over all questions they also had to hold the budget on the "family hidden"
    # half, and the bot abstained on dev / held-out questions it ranked right.
    seen = np.array([it["seen"] for it in items])
    hits_seen = [h for h, s in zip(hits_all, seen) if s]
    thresholds = choose_thresholds(p1[seen], p3[seen], right1[seen], right3[seen], hits_seen)
    oof = outcomes(p1, p3, right1, right3, hits_all, thresholds, answerable)
    oof_seen = outcomes(p1[seen], p3[seen], right1[seen], right3[seen], hits_seen, thresholds, answerable[seen])
    model = _fit_ranker(items, constraints)
    decision = _fit_calibrator(rows, right1)
    top3 = _fit_calibrator(rows, right3)
    # Reliability of the out-of-fold probabilities (calibration table for the report).
    bins = np.clip((p1 * 10).astype(int), 0, 9)
    reliability = [{"bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "n": int((bins == b).sum()),
                    "mean_p": float(p1[bins == b].mean()) if (bins == b).any() else None,
                    "right": float(right1[bins == b].mean()) if (bins == b).any() else None} for b in range(10)]
    meta = {
        "features": feature_names(searcher),
        "decision_features": list(DECISION_FEATURES),
        "thresholds": thresholds,
        "seed": SEED,
        "summary": {"train_questions": len(items), "answerable": int(answerable.sum()),
                    "seconds": round(time.time() - started, 1), "out_of_fold": oof,
                    "out_of_fold_bank_visible": oof_seen, **thresholds},
        "reliability_out_of_fold": reliability,
    }
    return Ranker(model, decision, top3, thresholds, meta), meta


def dense_scale(searcher) -> dict:
    """Where this encoder's cosines live: ``dense_floor`` / ``dense_span`` for the linear fusion and the hits'
    ``dense`` value, read off the best procedure cosine of every answerable train question of the bank.

    The hand-tuned 0.83 / 0.16 of ``knowledge/fusion.json`` fit the untuned e5-small only (its best cosines lie in
    0.85-0.97); the domain-adapted encoder spreads them over 0.3-0.97. Floor = 1st percentile less 0.3 of the
    distance to the median, span = 1.2 x (maximum - floor): the untuned encoder gets 0.83 / 0.165 back.
    """
    vectors, rows, _ = searcher.bank
    keep = np.array([r["split"] == "train" and r["code"] is not None for r in rows], dtype=bool)
    passages = searcher.dense.reconstruct_n(0, searcher.dense.ntotal)
    best = np.concatenate([(vectors[keep][i : i + 2048] @ passages.T).max(axis=1)
                           for i in range(0, int(keep.sum()), 2048)])
    low, mid, high = (float(np.percentile(best, q)) for q in (1, 50, 100))
    floor = low - 0.3 * (mid - low)
    return {"dense_floor": round(floor, 4), "dense_span": round(1.2 * (high - floor), 4)}


def train_for_index(index_dir: Path, encoder_spec: str, log: Callable[[str], None] = print) -> dict:
    """Train on the bank's train split with the index's own searcher (linear fusion, train rows only) and save."""
    from knowledge.bank import load_bank
    from knowledge.encoder import encoder_from_config
    from knowledge.search import Searcher

    searcher = Searcher(Path(index_dir), encoder_from_config(encoder_spec), bank_splits=("train",),
                        use_ranker=False)
    if searcher.bank is None:
        log("No question bank in the index: the searcher keeps the linear fusion.")
        return {"summary": {"skipped": "no question bank"}}
    questions = load_bank(splits=("train",))
    scale = dense_scale(searcher)
    searcher.params = replace(searcher.params, **scale)
    log(f"Training the ranker on {len(questions)} train questions of the bank (dense scale {scale}) ...")
    ranker, meta = train(searcher, questions, log)
    strangers = strangers_calibration(searcher, ranker, log)
    if strangers is not None:
        meta["thresholds"]["answer_above_out_of_fold"] = ranker.answer_above
        ranker.answer_above = max(ranker.answer_above, strangers["answer_above"])
        meta["thresholds"]["answer_above"] = meta["summary"]["answer_above"] = ranker.answer_above
        meta["strangers_calibration"] = strangers
    meta["dense_scale"] = scale
    meta["stamp"] = stamp(index_dir)
    meta["source_stamp"] = source_stamp(index_dir)
    meta["trained_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save_ranker(index_dir, ranker, meta)
    log(f"Ranker saved to {index_dir}/ranker.pkl ({meta['summary']['seconds']} s)")
    return meta
