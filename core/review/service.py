"""The review queue as the console uses it: refreshed from Rasa's tracker store, proposals checked against the
knowledge base, approved links written to the approved-questions file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Optional

from core.db import Database, now_vn
from core.review.approved import ApprovedQuestions
from core.review.grouping import Embedder, searcher_embedder
from core.review.queue import ReviewQueue
from core.review.signals import default_low_confidence, review_signals
from core.tracker_db import TrackerDb


class ReviewService:
    """Queue + tracker store + approved-questions file."""

    def __init__(self, queue: ReviewQueue, tracker: Optional[TrackerDb], approved: ApprovedQuestions,
                 window_days: int = 30, low_confidence: Callable[[], Optional[float]] = lambda: None) -> None:
        """``low_confidence()``: the confidence below which an answer enters the queue (None: answers never do),
        asked at each refresh."""
        self.queue = queue
        self.tracker = tracker
        self.approved = approved
        self.window_days = window_days
        self.low_confidence = low_confidence

    def refresh(self) -> Optional[int]:
        """Read the last ``window_days`` of conversations into the queue; new sightings, None when the tracker
        store is unavailable."""
        if self.tracker is None:
            return None
        since = (self.queue.clock() - timedelta(days=self.window_days)).timestamp()
        rows = self.tracker.read_events(since)
        if rows is None:
            return None
        return self.queue.ingest(review_signals(rows, self.low_confidence()))

    def known_code(self, code: str) -> bool:
        """Whether ``code`` is a procedure of the knowledge base."""
        return code in self.approved.codes

    def propose(self, item_id: int, staff: str, kind: str, value: str) -> dict:
        return self.queue.propose(item_id, staff, kind, value, self.known_code)

    def decide(self, item_id: int, staff: str, approve: bool) -> dict:
        return self.queue.decide(item_id, staff, approve, self.approved.append)


def knowledge_codes(knowledge_dir: Any) -> Callable[[], list]:
    """The procedure codes of the knowledge base at ``knowledge_dir``, read when first called."""
    def codes() -> list:
        from knowledge import store

        return [p.code for p in store.load_procedures(knowledge_dir)]

    return codes


def low_confidence_from_settings(settings: Any) -> Callable[[], Optional[float]]:
    """REVIEW_LOW_CONFIDENCE (0 or less: never), or when unset the index's answer threshold plus a margin
    (:func:`core.review.signals.default_low_confidence`, read at each refresh: a rebuilt index's own)."""
    value = settings.review_low_confidence
    if value is None:
        return lambda: default_low_confidence(settings.index_dir)
    bar = value if value > 0 else None
    return lambda: bar


def review_service_from_settings(settings: Any, db: Database, tracker_source: Any = None,
                                 embed: Optional[Embedder] = None) -> ReviewService:
    """The deployment's review service: its services database, tracker store and approved-questions file; questions
    grouped with ``embed`` (default: the process-wide searcher's encoder, :func:`core.review.grouping
    .searcher_embedder`) from REVIEW_GROUP_SIMILARITY."""
    tracker = TrackerDb(tracker_source) if tracker_source else None
    queue = ReviewQueue(db, clock=now_vn, embed=embed or searcher_embedder(),
                        similarity=settings.review_group_similarity)
    return ReviewService(queue, tracker,
                         ApprovedQuestions(settings.review_approved_file, knowledge_codes(settings.knowledge_dir)),
                         settings.review_window_days, low_confidence_from_settings(settings))
