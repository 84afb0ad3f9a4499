"""The review queue's grouping by meaning with the search encoder (core/review/grouping.py, ReviewQueue.ingest) and
its low-confidence signal (the slot answer_confidence the knowledge action sets, core/review/signals.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_procedure import ActionAnswerProcedure
from core.db import VN_TZ
from core.knowledge_service import KnowledgeService
from core.review.approved import ApprovedQuestions
from core.review.grouping import nearest, searcher_embedder, text_vector, vector_text
from core.review.queue import ReviewQueue
from core.review.service import ReviewService, low_confidence_from_settings
from core.review.signals import Signal, default_low_confidence, review_signals
from core.tracker_db import TrackerDb
from knowledge.search import Hit, SearchResponse
from settings import get_settings
from tests.fakes.knowledge import FakeSearcher, FakeStore
from tests.fakes.rasa_tracker_store import Tracker
from tests.fakes.trackers import make_tracker

NOW = datetime.now(VN_TZ).replace(microsecond=0)
LAND_FIRST = "Làm sổ đỏ lần đầu ở đâu?"
LAND_FIRST_FORMAL = "cấp giấy chứng nhận quyền sử dụng đất lần đầu nộp ở đâu"


def signal(sender: str, text: str, reason: str = "abstained", minutes: int = 0) -> Signal:
    return Signal(sender, (NOW - timedelta(minutes=60 - minutes)).timestamp(), reason, text)


def stored_vectors(db) -> dict:
    with db.read() as conn:
        return {r["question"]: text_vector(r["vector"]) for r in conn.all("SELECT question, vector FROM review_items")}


class Embedder:
    """Fixed unit vectors per question (None: the encoder is unavailable); records what it was asked."""

    def __init__(self, vectors=None) -> None:
        self.vectors = vectors
        self.asked: list = []

    def __call__(self, questions):
        self.asked.append(list(questions))
        if self.vectors is None:
            return None
        rows = np.array([self.vectors[q] for q in questions], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# ---- grouping with the real encoder (the shipped index and model) --------------------------------------------------
def test_the_real_encoder_joins_one_question_in_other_words_and_keeps_two_procedures_apart(db):
    queue = ReviewQueue(db, embed=searcher_embedder(), similarity=get_settings().review_group_similarity)
    assert queue.ingest([signal("A", LAND_FIRST), signal("B", LAND_FIRST_FORMAL, "handed_off", 1),
                         signal("C", "đăng ký kết hôn", minutes=2), signal("D", "đăng ký khai tử", minutes=3)]) == 4
    groups = queue.groups()
    assert [(g["question"], g["variants"], g["count"], g["reasons"]) for g in groups] == [
        (LAND_FIRST, [LAND_FIRST, LAND_FIRST_FORMAL], 2, ["abstained", "handed_off"]),
        ("đăng ký khai tử", ["đăng ký khai tử"], 1, ["abstained"]),
        ("đăng ký kết hôn", ["đăng ký kết hôn"], 1, ["abstained"]),
    ]
    vectors = stored_vectors(db)
    assert sorted(vectors) == [LAND_FIRST, "đăng ký khai tử", "đăng ký kết hôn"]
    assert {v.shape for v in vectors.values()} == {(384,)}
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors.values())


def test_the_similarity_setting_is_the_threshold_the_hand_written_pairs_choose():
    from scripts.tune_review_grouping import PAIRS, choose, cosines, load_pairs

    pairs = load_pairs(PAIRS)
    same = np.array([bool(p["same"]) for p in pairs])
    assert (len(pairs), int(same.sum())) == (40, 20)
    best, _ = choose(cosines(pairs, searcher_embedder()), same)
    assert best["threshold"] == get_settings().review_group_similarity == 0.76
    assert (best["precision"], best["recall"]) == (0.938, 0.75)


# ---- grouping mechanics (fixed vectors) -------------------------------------------------------------------------
def test_a_question_joins_the_nearest_group_above_the_similarity_else_starts_one(db):
    embed = Embedder({"làm giấy khai sinh cho con": [1, 0, 0], "đăng ký kết hôn với người nước ngoài": [0, 1, 0],
                      "khai sinh cho bé mới sinh": [0.9, 0.3, 0], "xin giấy phép nuôi chó cảnh": [0.5, 0.5, 0.7]})
    queue = ReviewQueue(db, embed=embed, similarity=0.9)
    queue.ingest([signal("A", "làm giấy khai sinh cho con"),
                  signal("B", "đăng ký kết hôn với người nước ngoài", minutes=1),
                  signal("C", "khai sinh cho bé mới sinh", minutes=2),
                  signal("D", "xin giấy phép nuôi chó cảnh", minutes=3)])
    assert [(g["question"], g["variants"]) for g in queue.groups()] == [
        ("làm giấy khai sinh cho con", ["làm giấy khai sinh cho con", "khai sinh cho bé mới sinh"]),
        ("xin giấy phép nuôi chó cảnh", ["xin giấy phép nuôi chó cảnh"]),
        ("đăng ký kết hôn với người nước ngoài", ["đăng ký kết hôn với người nước ngoài"]),
    ]
    # the group keeps its first wording's vector (no drift towards the members)
    assert stored_vectors(db)["làm giấy khai sinh cho con"].tolist() == [1.0, 0.0, 0.0]


def test_wordings_placed_before_or_with_the_same_folded_words_are_not_embedded(db):
    embed = Embedder({"Đăng ký kết hôn ở đâu?": [1, 0], "mất thẻ căn cước": [0, 1]})
    queue = ReviewQueue(db, embed=embed, similarity=0.9)
    queue.ingest([signal("A", "Đăng ký kết hôn ở đâu?"), signal("B", "dang ky ket hon o dau", minutes=1)])
    queue.ingest([signal("C", "Đăng ký kết hôn ở đâu?", minutes=2), signal("D", "mất thẻ căn cước", minutes=3)])
    assert embed.asked == [["Đăng ký kết hôn ở đâu?"], ["mất thẻ căn cước"]]
    assert [(g["question"], g["count"]) for g in queue.groups()] == [("Đăng ký kết hôn ở đâu?", 3),
                                                                     ("mất thẻ căn cước", 1)]


def test_without_the_encoder_questions_are_grouped_by_folded_wording(db):
    queue = ReviewQueue(db, embed=Embedder(None), similarity=0.74)
    queue.ingest([signal("A", LAND_FIRST), signal("B", "lam so do lan dau o dau", minutes=1),
                  signal("C", LAND_FIRST_FORMAL, minutes=2)])
    assert [(g["question"], g["count"]) for g in queue.groups()] == [(LAND_FIRST, 2), (LAND_FIRST_FORMAL, 1)]
    assert stored_vectors(db) == {LAND_FIRST: None, LAND_FIRST_FORMAL: None}


def test_an_index_that_cannot_load_means_grouping_by_wording(db, tmp_path):
    def broken():
        raise FileNotFoundError(tmp_path / "kb-index" / "config.json")

    queue = ReviewQueue(db, embed=searcher_embedder(broken), similarity=0.74)
    assert queue.ingest([signal("A", LAND_FIRST), signal("B", LAND_FIRST_FORMAL, minutes=1)]) == 2
    assert [g["count"] for g in queue.groups()] == [1, 1]


def test_vectors_round_trip_and_nearest_ignores_other_dimensions():
    vector = np.array([0.6, 0.8], dtype=np.float32)
    assert text_vector(vector_text(vector)).tolist() == pytest.approx([0.6, 0.8])
    assert text_vector(None) is None and text_vector("không phải base64!") is None
    groups = [(1, np.array([1.0, 0.0, 0.0], dtype=np.float32)), (2, np.array([0.8, 0.6], dtype=np.float32)),
              (3, None)]
    assert nearest(vector, groups, 0.9) == 2
    assert nearest(vector, groups, 0.97) is None


# ---- the low-confidence signal ---------------------------------------------------------------------------------
def rows_of(tracker_path):
    return TrackerDb(tracker_path).read_events(0)


def test_an_answer_below_the_low_confidence_bar_is_a_signal_with_its_question(tmp_path):
    t = Tracker(tmp_path / "tracker.db")
    at = NOW - timedelta(hours=1)
    t.answer("A", at, "đổi giấy phép lái xe quá hạn", "1.002809", "Đổi giấy phép lái xe", confidence=0.86)
    t.answer("B", at, "cấp lại căn cước", "2.001255", "Cấp lại thẻ Căn cước", confidence=0.97)
    t.answer("C", at, "làm hộ chiếu ở đâu", "2.001234", "Cấp hộ chiếu")  # no confidence recorded
    t.slot("C", at, "answer_confidence", None)
    t.close()
    rows = rows_of(tmp_path / "tracker.db")
    assert [(s.sender, s.reason, s.text) for s in review_signals(rows, 0.9)] == [
        ("A", "low_confidence", "đổi giấy phép lái xe quá hạn")]
    assert list(review_signals(rows, None)) == []  # no bar: answers never enter the queue
    assert list(review_signals(rows, 0.8)) == []


def test_the_default_bar_is_the_answer_threshold_of_the_index_plus_a_margin(tmp_path, settings_env):
    (tmp_path / "ranker.json").write_text(json.dumps({"thresholds": {"answer_above": 0.8, "clarify_above": 0.2}}))
    assert default_low_confidence(tmp_path) == 0.86
    assert default_low_confidence(tmp_path / "nothing") is None
    shipped = json.loads((get_settings().index_dir / "ranker.json").read_text())["thresholds"]["answer_above"]
    assert default_low_confidence(get_settings().index_dir) == round(shipped + 0.06, 4)
    settings_env(KB_INDEX_DIR=str(tmp_path), REVIEW_LOW_CONFIDENCE=None)
    assert low_confidence_from_settings(get_settings())() == 0.86
    settings_env(REVIEW_LOW_CONFIDENCE="0.95")
    assert low_confidence_from_settings(get_settings())() == 0.95
    settings_env(REVIEW_LOW_CONFIDENCE="0")
    assert low_confidence_from_settings(get_settings())() is None
    settings_env(REVIEW_LOW_CONFIDENCE="thấp")
    with pytest.raises(ValueError, match="REVIEW_LOW_CONFIDENCE: expected a number"):
        get_settings()


def run_action(service, tracker) -> list:
    return asyncio.run(ActionAnswerProcedure(service=service).run(CollectingDispatcher(), tracker, {}))


def test_the_knowledge_action_records_the_confidence_the_queue_reads(db, tmp_path, birth_registration):
    q = "làm giấy khai sinh cho con cần giấy tờ gì"
    found = SearchResponse(q, False, results=[Hit("1.001193", "Đăng ký khai sinh", "procedure", "", 0.9)],
                           confidence=0.8731, decision="answer")
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher({q: found}),
                               store=FakeStore([birth_registration]))
    events = run_action(service, make_tracker(q, "ask_procedure"))
    assert {"event": "slot", "name": "answer_confidence", "value": 0.8731, "timestamp": None} in events
    # a follow-up about the current procedure is not the search's answer: the slot is emptied, never left stale
    follow = "mất bao lâu?"
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher({follow: SearchResponse(follow, True,
                                                                                             no_topic=True)}),
                               store=FakeStore([birth_registration]))
    tracker = make_tracker(follow, "ask_procedure", entities=[{"entity": "aspect", "value": "duration"}],
                           slots={"procedure_code": "1.001193", "answer_confidence": 0.8731})
    assert {"event": "slot", "name": "answer_confidence", "value": None, "timestamp": None} in run_action(
        service, tracker)
    # an abstention sets nothing (it is the "abstained" signal already)
    abstain = run_action(service, make_tracker("xin giấy phép nuôi chó cảnh", "ask_procedure"))
    assert [e for e in abstain if e.get("name") == "answer_confidence"] == []

    # the events as Rasa's tracker store keeps them, read back by the review queue at the shipped bar
    t = Tracker(tmp_path / "tracker.db")
    at = NOW - timedelta(minutes=30)
    t.user("web-1", at, q, "ask_procedure")
    t.action("web-1", at, "action_answer_procedure")
    for event in events:
        t.slot("web-1", at, event["name"], event["value"])
    t.close()
    approved = ApprovedQuestions(tmp_path / "approved.jsonl", lambda: {"1.001193"})
    review = ReviewService(ReviewQueue(db), TrackerDb(tmp_path / "tracker.db"), approved,
                           low_confidence=low_confidence_from_settings(get_settings()))
    assert review.refresh() == 1
    assert [(g["question"], g["reasons"]) for g in review.queue.groups()] == [(q, ["low_confidence"])]
