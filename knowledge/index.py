"""Building the knowledge index: a folder with config.json, the faiss file, BM25 and the entries.

Indexing is separate from querying (``knowledge.search``). The folder layout::

    config.json     model, dimension, faiss type, source hash, build time, counts
    dense.faiss     normalised vectors (each entry as written and without diacritics), inner product
    vectors.json    row -> entry number for the faiss rows
    bm25/           bm25s index over folded syllables + underthesea compounds
    entries.jsonl   one line per entry: id, kind, code, name, url, aliases (folded)
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from knowledge.accents import NLU_DIR
from knowledge.text import fold, lexical_tokens, syllables, unique
from nlu_components.normalize import TEENCODE_PATH

DESCRIPTION_WORDS = 60  # words of the one-line description embedded as a procedure's third passage
INDEX_VERSION = 7  # 2: question bank, levels, families; 3: English bank questions embedded with their own words;
# 4: English names of the procedures (dense_en.faiss); 5: the description as a third dense passage; 6: bank
# questions typed without diacritics embedded as restored by the accent model that also learns from the bank
# (accents v2); 7: accents v3 (candidate forms keyed without teencode); the source hash covers the teencode table
FLAT_LIMIT = 20_000  # above this many vectors an HNSW graph replaces exact search


@dataclass
class IndexEntry:
    """One searchable thing: a procedure or a curated FAQ entry."""

    id: str
    kind: str  # "procedure" | "faq"
    code: str
    name: str
    url: str = ""
    aliases: List[str] = field(default_factory=list)
    description: str = ""
    extra: str = ""  # field, levels, result: searchable context that is not the name
    levels: List[str] = field(default_factory=list)  # "Cấp bộ" / "Cấp tỉnh" / "Cấp xã" (local-variant preference)
    family: str = ""  # the procedure's family (knowledge/bank.py): siblings share it
    name_en: str = ""  # English rendering of the name (knowledge/names_en.py): the English-only passage

    def dense_texts(self) -> List[str]:
        """Passages to embed: the name as written and diacritics-stripped (citizens type both), and the one-line
        description (first :data:`DESCRIPTION_WORDS` words).

        Name (first 40 words) and a few aliases; encoding cost grows with length (the longest portal names run past
        200 words). The description ("Thủ tục cấp tỉnh, lĩnh vực Thú y: cấp giấy chứng nhận kiểm dịch ...") repeats
        the name inside its level and field: the field tells a question about animal quarantine from one about plant
        quarantine, a port from an airport. Measured with the dense score alone (best passage of a procedure),
        name passages → name + description: strangers' calibration set hit@1 0.699 → 0.715, strangers' test set
        0.672 → 0.701, 800 questions of the bank's test split 0.725 → 0.744; a diacritics-stripped copy of the
        description added nothing.
        """
        words = self.name.split()
        text = " ".join(words[:40]) + ("…" if len(words) > 40 else "")
        if self.aliases:
            text += ". Còn gọi là: " + "; ".join(self.aliases[:4])
        passages = [text, fold(text)]
        description = self.description.split()[:DESCRIPTION_WORDS]
        if description:
            passages.append(" ".join(description))
        return unique(passages)

    def english_text(self) -> str:
        """The English-only passage (empty when the entry has no English name): read for English questions only,
        so a Vietnamese question never meets it."""
        return self.name_en

    def lexical_text(self) -> str:
        """Text for BM25: name and aliases weigh most, so they are repeated."""
        return " . ".join([self.name, self.name, *self.aliases, self.description, self.extra])


def entries_from_store(knowledge_dir: Optional[Path] = None) -> List[IndexEntry]:
    """Every procedure and FAQ entry of the knowledge base as index entries."""
    from knowledge import store
    from knowledge.bank import load_split
    from knowledge.names_en import load_names

    families = {code: row["family"] for code, row in load_split(knowledge_dir).items()}
    english = load_names(knowledge_dir)
    entries: List[IndexEntry] = []
    for proc in store.load_procedures(knowledge_dir):
        entries.append(
            IndexEntry(
                id=proc.code,
                kind="procedure",
                code=proc.code,
                name=proc.name,
                url=proc.url or "",
                aliases=list(proc.aliases or []),
                description=proc.description or "",
                extra=" . ".join(x for x in [proc.field or ""] if x),
                levels=list(proc.levels or []),
                family=families.get(proc.code, proc.code),
                name_en=english.get(proc.code, ""),
            )
        )
    for faq in store.load_faq(knowledge_dir):
        entries.append(
            IndexEntry(
                id=f"faq:{faq.id}",
                kind="faq",
                code=f"faq:{faq.id}",
                name=faq.questions[0],
                url=faq.source or "",
                aliases=list(faq.questions),
                description="",
                extra="",
            )
        )
    return entries


# Tables read only when querying (knowledge/rewrite.py): editing them must not force a re-encode of the index.
# contrasts.yml feeds the ranker (its own stamp, knowledge/ranker.py); common.txt and *.md only document the bank;
# narrowing.yml is read by the answer action only (core/narrowing.py).
QUERY_TIME_FILES = frozenset({"synonyms.yml", "glossary_en.yml", "contrasts.yml", "common.txt", "narrowing.yml"})


def source_hash(knowledge_dir: Optional[Path] = None) -> str:
    """Hash of the knowledge files the index is built from (stale when it differs)."""
    from knowledge import store

    root = Path(knowledge_dir) if knowledge_dir else store.data_dir()
    digest = hashlib.sha256()
    # The encoder adapter (encoder/) reaches the index through the encoder's name, not as a knowledge file; the
    # committed ranker (ranker/) is trained on the index, not built into it.
    for path in sorted(p for p in root.rglob("*")
                       if p.is_file() and p.name not in QUERY_TIME_FILES and p.suffix != ".md"
                       and p.relative_to(root).parts[0] not in ("encoder", "ranker")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    # The live teencode table expands the words of every bank question and passage before their BM25 tokens and
    # embeddings are made (knowledge.text.fold): editing it makes the index stale.
    digest.update(TEENCODE_PATH.read_bytes())
    # The NLU examples are part of the diacritic restorer's corpus (knowledge.accents), which restores every bank
    # question before it is embedded: regenerating them (scripts/nlu_from_bank.py) changes the bank's vectors.
    for path in sorted(NLU_DIR.glob("*.yml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_config(index_dir: Path) -> Optional[dict]:
    """The index's config.json, or None if there is no complete index."""
    path = Path(index_dir) / "config.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_stale(index_dir: Path, src_hash: str, encoder_name: str) -> bool:
    """Whether the index must be rebuilt (missing, other source, other encoder or format, or damaged)."""
    config = read_config(index_dir)
    if not config:
        return True
    if not all((Path(index_dir) / name).exists() for name in ("dense.faiss", "entries.jsonl", "bm25")):
        return True
    if (
        config.get("source_hash") != src_hash
        or config.get("model") != encoder_name
        or config.get("index_version") != INDEX_VERSION
    ):
        return True
    # A damaged index (truncated file, altered checksum, counts that disagree) is rebuilt, not kept.
    return index_problem(index_dir) is not None


REBUILD_HINT = "rebuild it with `make build-index` (python -m knowledge build)"
REQUIRED_FILES = ("config.json", "dense.faiss", "vectors.json", "entries.jsonl", "bm25")


class KnowledgeIndexError(ValueError):
    """The knowledge index is missing or unusable; the message names the file and how to rebuild it."""

    def __init__(self, problem: str, path: Optional[Path] = None) -> None:
        """``problem`` says what is wrong; ``path`` is the file (or folder) at fault."""
        self.problem = problem
        self.path = Path(path) if path is not None else None
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"Knowledge index unusable — {where}{problem}; {REBUILD_HINT}.")


def file_digests(index_dir: Path) -> dict:
    """``{relative path: {"bytes": size, "sha256": hex}}`` of every file of an index folder but config.json."""
    root = Path(index_dir)
    digests = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "config.json"):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[path.relative_to(root).as_posix()] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    return digests


def verify_files(index_dir: Path) -> dict:
    """Check that the index folder is complete and its files are those config.json recorded; return the config.

    Raises :class:`KnowledgeIndexError` naming the first bad file. Indexes built before checksums were recorded
    (no ``files`` in config.json) get the presence checks only; the loaders' count checks still apply.
    """
    root = Path(index_dir)
    config_path = root / "config.json"
    if not root.is_dir():
        raise KnowledgeIndexError("the index folder does not exist", root)
    if not config_path.exists():
        raise KnowledgeIndexError("config.json is missing (no complete index here)", config_path)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeIndexError(f"config.json cannot be read ({exc})", config_path) from exc
    if not isinstance(config, dict):
        raise KnowledgeIndexError("config.json is not a JSON object", config_path)
    for name in REQUIRED_FILES[1:]:
        if not (root / name).exists():
            raise KnowledgeIndexError(f"{name} is missing", root / name)
    recorded = config.get("files")
    if isinstance(recorded, dict):
        actual = file_digests(root)
        for name, expected in recorded.items():
            found = actual.get(name)
            if found is None:
                raise KnowledgeIndexError(f"{name} is missing", root / name)
            if found["bytes"] != expected.get("bytes"):
                raise KnowledgeIndexError(
                    f"{name} has {found['bytes']} bytes but config.json recorded {expected.get('bytes')} "
                    "(truncated or replaced)", root / name)
            if found["sha256"] != expected.get("sha256"):
                raise KnowledgeIndexError(f"{name} does not match the sha256 recorded in config.json (altered)",
                                          root / name)
    return config


def check_loaded(index_dir: Path, config: dict, dense, rows, entries: list, bm25_docs: Optional[int]) -> None:
    """Cross-check the loaded parts against config.json and each other (dimension, vector and entry counts)."""
    root = Path(index_dir)
    dimension = config.get("dimension")
    if dimension is not None and int(dense.d) != int(dimension):
        raise KnowledgeIndexError(f"dense.faiss has dimension {dense.d} but config.json says {dimension}",
                                  root / "dense.faiss")
    vectors = config.get("vectors")
    if vectors is not None and int(dense.ntotal) != int(vectors):
        raise KnowledgeIndexError(f"dense.faiss holds {dense.ntotal} vectors but config.json says {vectors}",
                                  root / "dense.faiss")
    if len(rows) != int(dense.ntotal):
        raise KnowledgeIndexError(f"vectors.json maps {len(rows)} rows but dense.faiss holds {dense.ntotal}",
                                  root / "vectors.json")
    expected = config.get("entries")
    if expected is not None and len(entries) != int(expected):
        raise KnowledgeIndexError(f"entries.jsonl has {len(entries)} entries but config.json says {expected}",
                                  root / "entries.jsonl")
    if len(rows) and (int(max(rows)) >= len(entries) or int(min(rows)) < 0):
        raise KnowledgeIndexError("vectors.json points past the entries of entries.jsonl", root / "vectors.json")
    if bm25_docs is not None and int(bm25_docs) != len(entries):
        raise KnowledgeIndexError(f"bm25/ indexes {bm25_docs} documents but entries.jsonl has {len(entries)}",
                                  root / "bm25")


def load_parts(index_dir: Path, config: Optional[dict] = None) -> tuple:
    """Verify and load ``(config, faiss index, rows, entries, bm25)``; :class:`KnowledgeIndexError` if unusable.

    ``config`` is what :func:`verify_files` returned when the caller already ran it.
    """
    import bm25s
    import faiss

    root = Path(index_dir)
    config = config if config is not None else verify_files(root)
    try:
        dense = faiss.read_index(str(root / "dense.faiss"))
    except Exception as exc:  # faiss raises RuntimeError with its C++ message on a damaged file
        raise KnowledgeIndexError(f"dense.faiss cannot be read ({str(exc).strip().splitlines()[0][:200]})",
                                  root / "dense.faiss") from exc
    try:
        rows = np.asarray(json.loads((root / "vectors.json").read_text(encoding="utf-8")), dtype=np.int64)
    except (OSError, ValueError, TypeError) as exc:
        raise KnowledgeIndexError(f"vectors.json cannot be read ({exc})", root / "vectors.json") from exc
    entries: List[dict] = []
    with open(root / "entries.jsonl", "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                entry = json.loads(line.decode("utf-8"))
            except ValueError as exc:  # bad JSON or bad UTF-8
                raise KnowledgeIndexError(f"entries.jsonl line {number} is not valid JSON ({exc})",
                                          root / "entries.jsonl") from exc
            if not isinstance(entry, dict) or "code" not in entry:
                raise KnowledgeIndexError(f"entries.jsonl line {number} is not an entry", root / "entries.jsonl")
            entries.append(entry)
    try:
        bm25 = bm25s.BM25.load(str(root / "bm25"))
    except Exception as exc:  # bm25s raises whatever numpy/json raise on a damaged file
        raise KnowledgeIndexError(f"bm25/ cannot be read ({type(exc).__name__}: {exc})", root / "bm25") from exc
    bm25_docs = (getattr(bm25, "scores", None) or {}).get("num_docs")
    check_loaded(root, config, dense, rows, entries, bm25_docs)
    return config, dense, rows, entries, bm25


def index_problem(index_dir: Path) -> Optional[str]:
    """None when the index folder loads and is consistent, else the message of what is wrong."""
    try:
        load_parts(index_dir)
    except KnowledgeIndexError as exc:
        return str(exc)
    return None


def build_faiss(vectors: np.ndarray, flat_limit: int = FLAT_LIMIT):
    """Exact inner-product index for a province-sized KB, HNSW for a very large one."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= flat_limit:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def encode_sorted(encoder, texts: List[str], batch_size: int = 64, progress=None, queries: bool = False) -> np.ndarray:
    """Encode passages (or ``queries``) in batches of similar length (far less padding), in the input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    batches = range(0, len(order), batch_size)
    for start in progress(batches) if progress else batches:
        rows = order[start : start + batch_size]
        batch = [texts[i] for i in rows]
        vectors[rows] = encoder.encode_queries(batch) if queries else encoder.encode_passages(batch)
    return vectors


def passage_vectors(encoder, keys: List[Tuple[str, str]], known: Dict[Tuple[str, str], np.ndarray],
                    batch_size: int = 64, progress=None) -> Tuple[np.ndarray, int]:
    """Vectors of ``(entry id, passage)`` keys, in order: reused from ``known`` where there, else encoded; also how
    many were encoded."""
    vectors = np.zeros((len(keys), encoder.dimension), dtype=np.float32)
    missing = [i for i, key in enumerate(keys) if key not in known]
    for i, key in enumerate(keys):
        if key in known:
            vectors[i] = known[key]
    if missing:
        vectors[missing] = encode_sorted(encoder, [keys[i][1] for i in missing], batch_size, progress)
    return vectors, len(missing)


def build_index(
    entries: List[IndexEntry],
    encoder,
    out_dir: Path,
    src_hash: str,
    progress: Optional[Callable[[Iterable], Iterable]] = None,
    batch_size: int = 64,
    bank: Optional[List] = None,
    bank_text: Optional[Callable[[str], str]] = None,
    known: Optional[Dict[Tuple[str, str], np.ndarray]] = None,
    keep_from: Optional[Path] = None,
) -> dict:
    """Encode, index and write ``entries`` into ``out_dir`` (atomically: built beside, then renamed).

    Incremental update (knowledge/refresh.py): ``known`` holds the vectors of ``(entry id, passage)`` pairs an
    earlier build of the same encoder already encoded (:func:`known_vectors`), so only new passages are encoded;
    ``keep_from`` is that earlier index folder, whose question-bank part (``bank`` is then not encoded) and
    ranker files are carried over unchanged. The files and config written are those a full build writes.
    """
    import shutil

    import bm25s
    import faiss

    started = time.time()
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".building")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    rows: List[int] = []
    texts: List[str] = []
    ids: List[str] = []
    for number, entry in enumerate(entries):
        for text in entry.dense_texts():
            rows.append(number)
            texts.append(text)
            ids.append(entry.id)
    known = known or {}
    vectors, encoded = passage_vectors(encoder, list(zip(ids, texts)), known, batch_size, progress)
    index = build_faiss(vectors)
    faiss.write_index(index, str(tmp / "dense.faiss"))
    (tmp / "vectors.json").write_text(json.dumps(rows), encoding="utf-8")
    english = [(number, entry.id, entry.english_text()) for number, entry in enumerate(entries) if entry.english_text()]
    if english:
        en_vectors, en_encoded = passage_vectors(encoder, [(id_, text) for _, id_, text in english], known,
                                                 batch_size, progress)
        encoded += en_encoded
        faiss.write_index(build_faiss(en_vectors), str(tmp / ENGLISH_FILES[0]))
        (tmp / ENGLISH_FILES[1]).write_text(json.dumps([number for number, _, _ in english]), encoding="utf-8")

    corpus = [lexical_tokens(entry.lexical_text()) for entry in entries]
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    bm25.save(str(tmp / "bm25"))

    bank_questions = len(bank or [])
    if keep_from is not None:
        for name in BANK_FILES:
            part = Path(keep_from) / name
            if part.is_dir():
                shutil.copytree(part, tmp / name)
            elif part.exists():
                shutil.copy2(part, tmp / name)
        bank_questions = int((read_config(keep_from) or {}).get("bank_questions", 0))
    elif bank:
        write_bank(tmp, bank, encoder, bank_text or (lambda q: q), batch_size, progress)

    with open(tmp / "entries.jsonl", "w", encoding="utf-8") as handle:
        for entry in entries:
            record = asdict(entry)
            record["folded_aliases"] = unique(fold(a) for a in [entry.name, *entry.aliases])
            record["syllables"] = sorted(set(syllables(entry.lexical_text())))
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    config = {
        "index_version": INDEX_VERSION,
        "model": encoder.name,
        "dimension": int(vectors.shape[1]) if len(vectors) else int(encoder.dimension),
        "faiss": type(index).__name__,
        "entries": len(entries),
        "vectors": int(len(vectors)),
        "bank_questions": bank_questions,
        "source_hash": src_hash,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 2),
        # Size and hash of every file, so a truncated or altered file is named at load (see verify_files).
        "files": file_digests(tmp),
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The ranker is written after the index (not among the checksummed files), so it is carried over after too.
    for name in RANKER_FILES if keep_from is not None else ():
        if (Path(keep_from) / name).exists():
            shutil.copy2(Path(keep_from) / name, tmp / name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return {**config, "encoded": encoded}


RANKER_FILES = ("ranker.pkl", "ranker.json")  # knowledge/ranker.py: save_ranker
ENGLISH_FILES = ("dense_en.faiss", "vectors_en.json")  # English names: their vectors and entry numbers


def load_english_part(index_dir: Path) -> Optional[tuple]:
    """``(faiss index, entry numbers)`` of the English names, or None when the index has none (files verified with
    the rest by :func:`verify_files`)."""
    import faiss

    root = Path(index_dir)
    if not (root / ENGLISH_FILES[0]).exists():
        return None
    try:
        index = faiss.read_index(str(root / ENGLISH_FILES[0]))
        rows = np.asarray(json.loads((root / ENGLISH_FILES[1]).read_text(encoding="utf-8")), dtype=np.int64)
    except Exception as exc:  # faiss raises RuntimeError on a damaged file, json ValueError, a missing file OSError
        raise KnowledgeIndexError(f"the English names part cannot be read ({str(exc).strip()[:200]})",
                                  root / ENGLISH_FILES[0]) from exc
    if index.ntotal != len(rows):
        raise KnowledgeIndexError(f"{ENGLISH_FILES[0]} has {index.ntotal} vectors for {len(rows)} entry numbers",
                                  root / ENGLISH_FILES[0])
    return index, rows


def known_vectors(index_dir: Path) -> Dict[Tuple[str, str], np.ndarray]:
    """``(entry id, passage) -> vector`` of every passage of a built index (the passages as
    :meth:`IndexEntry.dense_texts` gives them for the entries recorded in entries.jsonl)."""
    _, dense, rows, entries, _ = load_parts(index_dir)
    vectors = dense.reconstruct_n(0, dense.ntotal)
    fields = set(IndexEntry.__dataclass_fields__)
    known: Dict[Tuple[str, str], np.ndarray] = {}
    first_row: Dict[int, int] = {}
    for row, number in enumerate(rows.tolist()):
        first_row.setdefault(number, row)
    for number, start in first_row.items():
        record = entries[number]
        texts = IndexEntry(**{k: v for k, v in record.items() if k in fields}).dense_texts()
        # the rows of one entry are consecutive, in dense_texts order (build_index)
        for offset, text in enumerate(texts):
            known[(record["id"], text)] = vectors[start + offset]
    english = load_english_part(index_dir)
    if english is not None:
        index, numbers = english
        for row, vector in zip(numbers.tolist(), index.reconstruct_n(0, index.ntotal)):
            text = entries[row].get("name_en") or ""
            if text:
                known[(entries[row]["id"], text)] = vector
    return known


BANK_FILES = ("bank.npy", "bank.jsonl", "bank_bm25", "bank_tokens.json")


def write_bank(out: Path, bank: List, encoder, text: Callable[[str], str], batch_size: int = 64,
               progress=None) -> None:
    """The question bank's part of the index: question vectors (encoded as queries, the way a citizen's
    question is), one JSON line per question (code or null, split, style), a BM25 over the questions and its
    tokens (``bank_tokens.json``: the live bank, knowledge/live_bank.py, rebuilds the BM25 with approved questions
    from them instead of tokenising the bank again)."""
    import bm25s

    vectors = encode_sorted(encoder, [text(q.q) for q in bank], batch_size, progress, queries=True)
    np.save(out / "bank.npy", vectors)
    with open(out / "bank.jsonl", "w", encoding="utf-8") as handle:
        for q in bank:
            handle.write(json.dumps({"code": q.code, "split": q.split, "style": q.style, "q": q.q},
                                    ensure_ascii=False) + "\n")
    tokens = [lexical_tokens(q.q) for q in bank]
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    model.save(str(out / "bank_bm25"))
    (out / "bank_tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")


def load_bank_parts(index_dir: Path) -> Optional[tuple]:
    """``(vectors, rows, bm25)`` of the index's question bank, or None when it was built without one."""
    import bm25s

    root = Path(index_dir)
    if not (root / "bank.npy").exists():
        return None
    try:
        vectors = np.load(root / "bank.npy")
        with open(root / "bank.jsonl", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        bm25 = bm25s.BM25.load(str(root / "bank_bm25"))
    except Exception as exc:  # numpy, json and bm25s raise their own errors on damaged files
        raise KnowledgeIndexError(f"the question bank part cannot be read ({type(exc).__name__}: {exc})",
                                  root / "bank.npy") from exc
    if len(rows) != len(vectors):
        raise KnowledgeIndexError(f"bank.jsonl has {len(rows)} rows but bank.npy {len(vectors)}", root / "bank.npy")
    return vectors, rows, bm25
