"""Approved questions live in search without an index rebuild (issue 16).

The review queue appends each approved link to a JSON-lines file of question-bank lines (``REVIEW_APPROVED_FILE``,
written by core/review/approved.py). A searcher given a :class:`LiveBank` looks at that file from
:meth:`knowledge.search.Searcher.search` at most every ``poll_s`` seconds (two ``stat`` calls, nothing more on the
search's own path) and, when the file or the persisted live part changed, in a background thread:

1. reads the file's valid lines (a malformed or invalid line is logged and skipped, never raised);
2. when the persisted live part (``<directory>/live_bank.<build>.npz``, one per index build) does not hold exactly
   those questions, takes the exclusive ``flock`` on ``<directory>/live_bank.lock`` (one writer among the
   replicas), reads both again, embeds the questions the part lacks exactly as the bank's questions are embedded
   at build time (the searcher's own rewriting and restored diacritics,
   :func:`knowledge.search.bank_text_function`, encoded as queries) and writes the part atomically (temporary
   file, fsync, rename), stamped with the index it belongs to;
3. merges the part into the searcher's bank: its rows (split ``approved``, so they vote only when the searcher's
   ``bank_splits`` is None or names ``approved``; the evaluation of the bank's test split never sees them), its
   vectors, and a BM25 over the bank's questions rebuilt from the bank's tokens (``bank_tokens.json`` of the index;
   for an index built without it, tokenised once and cached in ``<directory>/bank_tokens.<build>.json``) plus the
   approved ones: what a full build with these questions in the bank would give.

Every replica does the same: the first to see a new line embeds it, the others find it in the part. A replica
on another index build (rebuilt, refreshed, other encoder) keeps its own part, written from the same file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from knowledge.search import LIVE_SPLIT

PART_FILE = "live_bank.{build}.npz"  # one part per index build: replicas on two builds never rewrite each other's
TOKENS_FILE = "bank_tokens.{build}.json"
LOCK_FILE = "live_bank.lock"
# Keys an approved line carries beside the bank line's own (who approved it and when; core/review/approved.py).
PROVENANCE_KEYS = ("approved_by", "approved_at")

log = logging.getLogger(__name__)

Key = Tuple[str, str]  # (procedure code, question)


def _signature(path: Path) -> Optional[tuple]:
    """What tells a changed file: size, modification time and inode (a rename gives a new inode)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def index_stamp(config: dict) -> str:
    """Which index build a live part belongs to (its vectors are that build's encoder's)."""
    return "|".join(str(config.get(k, "")) for k in ("model", "source_hash", "built_at", "bank_questions"))


def build_id(stamp: str) -> str:
    """A short file-name-safe id of the index build ``stamp``."""
    return hashlib.sha256(stamp.encode("utf-8")).hexdigest()[:12]


def part_file(directory: Path, stamp: str) -> Path:
    """The live part of the index build ``stamp`` in ``directory``."""
    return Path(directory) / PART_FILE.format(build=build_id(stamp))


def read_approved(path: Path, codes: set, reported: Optional[set] = None) -> List[Tuple[str, str, str]]:
    """The valid approved questions of ``path`` as ``(code, question, style)``, in file order, each once.

    A line that is not JSON, not a valid bank line (:func:`knowledge.bank.record_problems` against ``codes``) or
    names no procedure is logged (once per line and text when ``reported`` keeps track) and skipped. A last line
    without its newline is being written: left for later.
    """
    reported = set() if reported is None else reported
    from knowledge.bank import record_problems

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # a line still being appended
    out: List[Tuple[str, str, str]] = []
    seen: set = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems = [f"not JSON ({exc})"]
        else:
            bank_line = ({k: v for k, v in record.items() if k not in PROVENANCE_KEYS}
                         if isinstance(record, dict) else record)
            problems = record_problems(bank_line, codes)
            if not problems and bank_line.get("code") is None:
                problems = ["names no procedure"]
        if problems:
            if (number, line) not in reported:
                reported.add((number, line))
                log.warning("Approved questions %s:%d skipped: %s", path, number, "; ".join(problems))
            continue
        key = (bank_line["code"], bank_line["q"].strip())
        if key not in seen:
            seen.add(key)
            out.append((*key, bank_line["style"]))
    return out


class LivePart:
    """The persisted live part: approved rows with their vectors and BM25 tokens, for one index build."""

    def __init__(self, stamp: str, rows: List[dict], vectors: np.ndarray, tokens: List[List[str]]) -> None:
        self.stamp, self.rows, self.vectors, self.tokens = stamp, rows, vectors, tokens

    def keys(self) -> List[Key]:
        return [(r["code"], r["q"]) for r in self.rows]

    @classmethod
    def load(cls, path: Path, stamp: str) -> Optional["LivePart"]:
        """The part at ``path`` when it exists, reads and belongs to the index ``stamp``; else None."""
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                vectors = np.asarray(data["vectors"], dtype=np.float32)
            part = cls(meta["stamp"], meta["rows"], vectors, meta["tokens"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Live bank part %s unreadable (%s): it will be rewritten", path, exc)
            return None
        if part.stamp != stamp or len(part.rows) != len(part.vectors) or len(part.rows) != len(part.tokens):
            return None
        return part

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file beside, synced, then renamed over ``path``."""
        meta = json.dumps({"stamp": self.stamp, "rows": self.rows, "tokens": self.tokens}, ensure_ascii=False)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, meta=np.array(meta), vectors=self.vectors.astype(np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


class LiveBank:
    """Keeps a searcher's bank in step with the approved-questions file (see the module's text)."""

    def __init__(self, source: Path, directory: Path, poll_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``source``: the approved-questions file; ``directory``: where the live part is persisted (shared by
        the replicas); ``poll_s``: how often a search may look at the files."""
        self.source = Path(source)
        self.directory = Path(directory)
        self.poll_s = poll_s
        self.clock = clock
        self._next = 0.0
        self._seen: tuple = (None, None)  # the files' signatures when last merged (none yet: no file, no work)
        self._busy = threading.Lock()
        self.merged: List[Key] = []  # what the searcher's bank holds from the part, in order
        self.merged_at: Optional[float] = None  # time.time() of the last merge
        self.worker: Optional[threading.Thread] = None
        self._tokens: Optional[tuple] = None  # (index stamp, BM25 tokens of the index's bank questions)
        self._reported: set = set()  # malformed lines already logged

    def part_path(self, searcher) -> Path:
        """The live part of ``searcher``'s index build."""
        return part_file(self.directory, index_stamp(searcher.config))

    def poll(self, searcher) -> None:
        """Called by every search: at most every ``poll_s`` seconds, compare the files' signatures with those last
        merged and, when they differ, refresh in a background thread (one at a time). Never blocks."""
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.poll_s
        if (_signature(self.source), _signature(self.part_path(searcher))) == self._seen:
            return
        if not self._busy.acquire(blocking=False):
            return
        self.worker = threading.Thread(target=self._refresh_in_background, args=(searcher,), name="live-bank",
                                       daemon=True)
        self.worker.start()

    def _refresh_in_background(self, searcher) -> None:
        try:
            self.refresh(searcher)
        except Exception:  # noqa: BLE001 - the search goes on with the bank it has; the next poll retries
            log.exception("Live bank refresh from %s failed", self.source)
        finally:
            self._busy.release()

    def refresh(self, searcher) -> int:
        """Bring the persisted part and ``searcher``'s bank in step with the file now; rows merged."""
        source_sig = _signature(self.source)
        stamp = index_stamp(searcher.config)
        codes = searcher.procedure_codes()
        wanted = read_approved(self.source, codes, self._reported)
        part = LivePart.load(self.part_path(searcher), stamp)
        if not wanted and (part is None or not part.rows):  # nothing approved (yet): the index's bank alone
            if self.merged:
                searcher.merge_live([], None, [])
                self.merged, self.merged_at = [], time.time()
            self._seen = (source_sig, _signature(self.part_path(searcher)))
            return 0
        if part is None or part.keys() != [(c, q) for c, q, _ in wanted]:
            with self._locked():
                # Another replica may have written the part meanwhile, and the file may have grown.
                source_sig = _signature(self.source)
                wanted = read_approved(self.source, codes, self._reported)
                part = LivePart.load(self.part_path(searcher), stamp)
                if part is None or part.keys() != [(c, q) for c, q, _ in wanted]:
                    part = self._write(searcher, stamp, wanted, part)
                tokens = self._bank_tokens(searcher, stamp) if part.rows else []
        else:
            tokens = self._bank_tokens(searcher, stamp, locked=False)
        part_sig = _signature(self.part_path(searcher))
        if part.keys() != self.merged:
            searcher.merge_live(part.rows, part.vectors, tokens + part.tokens if part.rows else [])
            self.merged, self.merged_at = part.keys(), time.time()
            log.info("Live bank: %d approved questions in the search's bank", len(part.rows))
        self._seen = (source_sig, part_sig)
        return len(part.rows)

    def wait(self, timeout: float) -> bool:
        """Wait for a running background refresh (tests, the replay script); whether none is running after."""
        worker = self.worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The exclusive cross-process lock of the live part's writers (blocking; core/zalo_tokens.py's pattern)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, searcher, stamp: str, wanted: List[Tuple[str, str, str]],
               previous: Optional[LivePart]) -> LivePart:
        """The part holding ``wanted``: vectors kept from ``previous``, the rest embedded now; saved."""
        from knowledge.text import lexical_tokens

        known: Dict[Key, Tuple[np.ndarray, List[str]]] = {}
        if previous is not None:
            known = {k: (v, t) for k, v, t in zip(previous.keys(), previous.vectors, previous.tokens)}
        missing = [(c, q) for c, q, _ in wanted if (c, q) not in known]
        if missing:
            started = time.perf_counter()
            vectors = np.asarray(searcher.encoder.encode_queries([searcher.dense_text(q) for _, q in missing]),
                                 dtype=np.float32)
            for key, vector in zip(missing, vectors):
                known[key] = (vector, lexical_tokens(key[1]))
            log.info("Live bank: %d approved questions embedded in %.2f s", len(missing),
                     time.perf_counter() - started)
        dimension = searcher.dense.d
        rows = [{"code": c, "q": q, "split": LIVE_SPLIT, "style": style} for c, q, style in wanted]
        vectors = (np.stack([known[(c, q)][0] for c, q, _ in wanted]) if wanted
                   else np.zeros((0, dimension), dtype=np.float32))
        part = LivePart(stamp, rows, vectors, [known[(c, q)][1] for c, q, _ in wanted])
        part.save(self.part_path(searcher))
        return part

    def _bank_tokens(self, searcher, stamp: str, locked: bool = True) -> List[List[str]]:
        """BM25 tokens of the index's own bank questions, from the cache, computed (and cached) when it lacks
        them; outside the writers' lock the cache is written under it."""
        from knowledge.text import lexical_tokens

        rows = searcher.base_bank_rows()
        if self._tokens is not None and self._tokens[0] == stamp and len(self._tokens[1]) == len(rows):
            return self._tokens[1]
        built = searcher.index_dir / "bank_tokens.json"  # written by the index build (knowledge/index.py)
        try:
            tokens = json.loads(built.read_text(encoding="utf-8"))
            if isinstance(tokens, list) and len(tokens) == len(rows):
                self._tokens = (stamp, tokens)
                return tokens
        except (OSError, ValueError):
            pass
        path = self.directory / TOKENS_FILE.format(build=build_id(stamp))  # an index built before it wrote them
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("stamp") == stamp and len(cached.get("tokens", [])) == len(rows):
                self._tokens = (stamp, cached["tokens"])
                return cached["tokens"]
        except (OSError, ValueError, AttributeError):
            pass
        if not locked:
            with self._locked():
                return self._bank_tokens(searcher, stamp)
        started = time.perf_counter()
        tokens = [lexical_tokens(r["q"]) for r in rows]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "tokens": tokens}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        self._tokens = (stamp, tokens)
        log.info("Live bank: BM25 tokens of %d bank questions cached in %.1f s", len(rows),
                 time.perf_counter() - started)
        return tokens
