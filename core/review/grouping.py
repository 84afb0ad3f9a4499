"""Grouping the review queue's questions by meaning, with the encoder the knowledge search uses.

A masked question is embedded exactly as the search embeds a citizen's question (the searcher's ``dense_text``:
synonyms rewritten, diacritics restored on unaccented text; then its encoder's ``encode_queries``), so "lam so do o
dau" and "Làm sổ đỏ ở đâu?" get nearly the same vector. Each group keeps the vector of its first wording (its
representative); :func:`nearest` finds the group a new question joins. Without an index or a model the embedder
answers None and the queue groups by folded wording alone (:func:`core.review.queue.group_key`).
"""

from __future__ import annotations

import base64
import logging
from typing import Callable, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)

# An embedder: the L2-normalised vectors of some masked questions (one row each), or None when unavailable.
Embedder = Callable[[Sequence[str]], Optional[np.ndarray]]


def vector_text(vector: np.ndarray) -> str:
    """A vector as stored in ``review_items.vector``: float32 little-endian bytes in base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def text_vector(text: Optional[str]) -> Optional[np.ndarray]:
    """The vector stored as ``text`` (None for NULL or a malformed value)."""
    if not text:
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if not raw or len(raw) % 4:
        return None
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def nearest(vector: np.ndarray, groups: Sequence[tuple], similarity: float) -> Optional[int]:
    """The id of the group in ``groups`` (``(id, vector)`` pairs) whose vector is nearest to ``vector`` by cosine,
    if that cosine is at least ``similarity``; None otherwise. Vectors of another dimension (an index rebuilt with
    another encoder) are ignored."""
    best_id, best = None, -2.0
    for item_id, other in groups:
        if other is None or other.shape != vector.shape:
            continue
        cosine = float(vector @ other)
        if cosine > best:
            best_id, best = item_id, cosine
    return best_id if best >= similarity else None


def searcher_embedder(searcher_factory: Optional[Callable] = None) -> Embedder:
    """An embedder over the knowledge searcher (default: the process-wide one, ``knowledge.search.get_searcher``),
    loaded on first use. Any failure (no index, no model) is logged once and answers None."""
    warned: list = []

    def embed(questions: Sequence[str]) -> Optional[np.ndarray]:
        try:
            factory = searcher_factory
            if factory is None:
                from knowledge.search import get_searcher

                factory = get_searcher
            searcher = factory()
            return searcher.encoder.encode_queries([searcher.dense_text(q) for q in questions])
        except Exception:  # the queue still works, grouped by wording
            if not warned:
                warned.append(True)
                log.warning("review queue: the search encoder is unavailable; grouping by wording only",
                            exc_info=True)
            return None

    return embed
