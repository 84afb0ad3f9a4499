"""The decision rule and the local-variant preference of the searcher (knowledge/ranker.py, knowledge/search.py)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.ranker import choose
from knowledge.search import Hit, prefer_local_level


def hit(code, name, score, family="f1", level="", kind="procedure"):
    return Hit(code, name, kind, "", score, probability=score, family=family, level=level)


def test_answer_when_confident():
    hits = [hit("1", "Đăng ký khai sinh", 0.9), hit("2", "Đăng ký khai tử", 0.1, family="f2")]
    assert choose(0.95, 0.99, hits, answer_above=0.8, clarify_above=0.5) == "answer"


def test_clarify_only_between_siblings():
    siblings = [hit("1", "Cấp lại thẻ căn cước", 0.5), hit("2", "Cấp đổi thẻ căn cước", 0.4)]
    strangers = [hit("1", "Cấp lại thẻ căn cước", 0.5), hit("3", "Đăng ký thường trú", 0.4, family="f3")]
    assert choose(0.6, 0.9, siblings, answer_above=0.8, clarify_above=0.5) == "clarify"
    assert choose(0.6, 0.9, strangers, answer_above=0.8, clarify_above=0.5) == "abstain"
    assert choose(0.6, 0.3, siblings, answer_above=0.8, clarify_above=0.5) == "abstain"


def test_the_ordinary_case_and_a_special_one_are_siblings_to_ask_between():
    ordinary = hit("1.001193", "Thủ tục đăng ký khai sinh", 0.5, family="f1")
    special = hit("1.004772", "Thủ tục đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân", 0.3, family="f2")
    assert choose(0.6, 0.9, [ordinary, special], answer_above=0.8, clarify_above=0.5) == "clarify"
    assert choose(0.6, 0.9, [special, ordinary], answer_above=0.8, clarify_above=0.5) == "clarify"
    # A shared beginning is not enough: "Đăng ký khai tử" is another procedure, not a special birth registration.
    death = hit("1.000656", "Thủ tục đăng ký khai tử", 0.3, family="f3")
    assert choose(0.6, 0.9, [ordinary, death], answer_above=0.8, clarify_above=0.5) == "abstain"


def test_local_level_is_preferred_when_the_question_names_none():
    central = hit("1.000757", "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)", 0.6, level="trung_uong")
    local = hit("1.014064", "Cấp lại thẻ căn cước", 0.5, level="")
    other = hit("1.004222", "Đăng ký thường trú", 0.1, family="f9")
    ranked, moved = prefer_local_level([central, local, other])
    assert moved and [h.code for h in ranked] == ["1.014064", "1.000757", "1.004222"]
    assert ranked[0].score == 0.6  # the preferred variant carries the evidence of the top one


def test_no_reordering_for_different_procedures_or_a_weak_variant():
    a = hit("1", "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)", 0.6, level="trung_uong")
    b = hit("2", "Cấp đổi thẻ căn cước", 0.5, level="")  # a sibling by operation, not by level
    assert prefer_local_level([a, b]) == ([a, b], False)
    weak = hit("3", "Cấp lại thẻ căn cước", 0.1, level="")
    assert prefer_local_level([a, weak]) == ([a, weak], False)


def test_the_answer_says_which_level_was_chosen(monkeypatch):
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions_procedure import ActionAnswerProcedure
    from core.knowledge_service import KnowledgeService
    from knowledge.search import SearchResponse
    from settings import get_settings
    from tests.fakes.responses import rendered

    local = hit("1.014064", "Cấp lại thẻ căn cước", 0.9, level="")
    central = hit("1.000757", "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)", 0.5, level="trung_uong")

    class FakeSearcher:
        def search(self, text, top_k=5):
            return SearchResponse(query=text, abstain=False, results=[local, central], confidence=0.95,
                                  decision="answer", local_variant=True)

    monkeypatch.setenv("PROVINCE", "Bắc Ninh")
    get_settings.cache_clear()
    action = ActionAnswerProcedure(KnowledgeService(searcher_factory=FakeSearcher))
    tracker = Tracker("s1", {}, {"text": "làm lại căn cước bị mất", "intent": {"name": "ask_procedure"},
                                 "entities": []}, [], False, None, {}, "")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    assert dispatcher.messages[0]["response"] == "utter_procedure_local_level"
    text = rendered(dispatcher.messages)[0]["text"]
    assert {"event": "slot", "name": "procedure_code", "value": "1.014064", "timestamp": None} in events
    assert text.endswith("Thủ tục này có ở nhiều cấp; thông tin trên là của thủ tục thực hiện tại cấp xã, nơi người "
                         "dân Bắc Ninh thường nộp hồ sơ. Nếu bạn cần cấp khác (ví dụ cấp trung ương), hãy nói rõ "
                         "trong câu hỏi."), text
    get_settings.cache_clear()


def test_decision_probabilities_match_the_fitted_calibrators():
    """The numpy form of the calibrators gives scikit-learn's own probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from knowledge.ranker import Ranker

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6)) * [1, 5, 0.1, 2, 1, 3] + [0, 2, 0, -1, 4, 0]
    models = []
    for column in (0, 1):
        y = (x[:, column] + rng.normal(scale=0.5, size=200) > x[:, column].mean()).astype(int)
        models.append(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y))
    ranker = Ranker(None, models[0], models[1],
                    {"answer_above": 0.78, "clarify_above": 0.2, "suggest_above": 0.1}, {})
    for row in x[:20]:
        p1, p3 = ranker.probabilities(row)
        assert p1 == pytest.approx(models[0].predict_proba(row.reshape(1, -1))[0, 1], abs=1e-9)
        assert p3 == pytest.approx(models[1].predict_proba(row.reshape(1, -1))[0, 1], abs=1e-9)


def test_dense_scale_follows_the_encoders_cosine_range():
    """Floor and span come from the best procedure cosine of the answerable train questions only."""
    import faiss

    from knowledge.ranker import dense_scale

    rng = np.random.default_rng(5)
    passages = rng.normal(size=(30, 8)).astype(np.float32)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    questions = passages[rng.integers(0, 30, size=200)] + rng.normal(scale=0.3, size=(200, 8)).astype(np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    rows = [{"split": "train" if i % 4 else "test", "code": None if i % 10 == 1 else "x"} for i in range(200)]
    index = faiss.IndexFlatIP(8)
    index.add(passages)

    class FakeSearcher:
        bank = (questions, rows, None)
        dense = index

    keep = [i for i, r in enumerate(rows) if r["split"] == "train" and r["code"]]
    best = (questions[keep] @ passages.T).max(axis=1)
    low, mid, high = np.percentile(best, 1), np.percentile(best, 50), best.max()
    scale = dense_scale(FakeSearcher())
    assert scale["dense_floor"] == pytest.approx(low - 0.3 * (mid - low), abs=1e-4)
    assert scale["dense_span"] == pytest.approx(1.2 * (high - scale["dense_floor"]), abs=2e-4)


def test_monotone_constraints_cover_every_evidence_feature():
    from knowledge.contrast import get_contrasts
    from knowledge.ranker import BASE_FEATURES, monotonic_constraints

    names = list(BASE_FEATURES) + get_contrasts().feature_names
    sign = dict(zip(names, monotonic_constraints(names)))
    assert {n for n, s in sign.items() if s > 0} >= {"dense", "lexical", "bank", "bank_vote", "bank_lex", "alias",
                                                     "bank_count", "direction_match", "level_match"}
    assert {n for n, s in sign.items() if s < 0} >= {"dense_rank", "bank_rank", "missing", "variant",
                                                     "direction_conflict"}
    assert sign["english"] == sign["unaccented"] == sign["direction_q_has"] == 0


def test_the_deployed_ranker_never_lowers_a_candidate_for_more_bank_evidence():
    """The trained booster respects the constraints: raising a candidate's bank match, vote and rank to the best
    (all else equal) cannot lower its probability (the failure the constraints were added for)."""
    from knowledge.ranker import load_ranker
    from settings import get_settings

    index_dir = get_settings().index_dir
    ranker = load_ranker(index_dir)
    if ranker is None:
        pytest.fail(f"no trained ranker in {index_dir}: run make setup")
    names = ranker.meta["features"]
    rng = np.random.default_rng(7)
    rows = rng.random((200, len(names)))
    better = rows.copy()
    for name, value in (("bank", 1.0), ("bank_vote", 1.0), ("bank_lex", 1.0), ("bank_rank", 0.0)):
        better[:, names.index(name)] = value
    assert np.all(ranker.score(better) >= ranker.score(rows) - 1e-9)


def test_the_decision_knows_whether_the_top_procedure_has_bank_questions():
    """``bank_known1``: 1 when the top hit's procedure has bank questions in the index, else 0 (the deployed bot's
    procedures all have some; the bank test split's families have none when it is evaluated)."""
    from knowledge.ranker import DECISION_FEATURES, decision_features

    parts = {"unanswerable_margin": 0.1, "n_content": 4, "english": 0.0, "unaccented": 0.0}
    column = DECISION_FEATURES.index("bank_known1")
    known = [Hit("1", "Đăng ký khai sinh", "procedure", "", 0.9, probability=0.9, bank_count=0.25),
             Hit("2", "Đăng ký khai tử", "procedure", "", 0.1, probability=0.1)]
    unknown = [Hit("1", "Đăng ký khai sinh", "procedure", "", 0.9, probability=0.9),
               Hit("2", "Đăng ký khai tử", "procedure", "", 0.1, probability=0.1, bank_count=0.5)]
    assert len(decision_features(parts, known)) == len(DECISION_FEATURES)
    assert decision_features(parts, known)[column] == 1.0
    assert decision_features(parts, unknown)[column] == 0.0


def test_the_deployed_thresholds_hold_the_budget_where_bank_questions_are_visible():
    """The out-of-fold threshold holds the wrong-confident budget over the questions asked with their procedure's
    other bank questions visible; the deployed one is the higher of it and the strangers' calibration set's, so it
    holds the budget on both."""
    from knowledge.bank import MIN_STRANGERS, load_strangers
    from knowledge.ranker import WRONG_CONFIDENT_BUDGET, load_ranker
    from settings import get_settings

    ranker = load_ranker(get_settings().index_dir)
    if ranker is None:
        pytest.fail("no trained ranker: run make setup")
    visible = ranker.meta["summary"]["out_of_fold_bank_visible"]
    assert visible["n"] > 5000
    assert visible["wrong_confident"] <= WRONG_CONFIDENT_BUDGET
    assert ranker.answer_above == ranker.meta["thresholds"]["answer_above"] < 1.0
    strangers = ranker.meta["strangers_calibration"]
    assert strangers["n"] == len(load_strangers("calibration")) >= MIN_STRANGERS["calibration"]
    assert ranker.answer_above == max(strangers["answer_above"], ranker.meta["thresholds"]["answer_above_out_of_fold"])
    assert strangers["at_strangers_threshold"]["wrong_confident"] <= WRONG_CONFIDENT_BUDGET


def test_the_answer_threshold_is_the_lowest_that_keeps_the_budget():
    from knowledge.ranker import WRONG_CONFIDENT_BUDGET, lowest_answer_threshold

    assert WRONG_CONFIDENT_BUDGET == 0.025
    # 100 questions, p from 0.99 down to 0.30; three of them would be wrong answers, at p 0.95, 0.70 and 0.595.
    p1 = np.linspace(0.99, 0.30, 100)
    p1[[5, 40, 57]] = 0.95, 0.70, 0.595
    wrong = np.zeros(100, dtype=bool)
    wrong[[5, 40, 57]] = True
    # Two wrong answers (2 %) are within the budget, a third is not: the bar stops just above the third.
    assert lowest_answer_threshold(p1, wrong) == 0.60
    assert lowest_answer_threshold(np.full(10, 0.99), np.ones(10, dtype=bool)) == 1.0  # no bar keeps it
    assert lowest_answer_threshold(p1, np.zeros(100, dtype=bool)) == 0.30


def _names_searcher(names):
    """The two fields rival_features reads: each name's topic words (IDF 1 each) and the largest IDF."""
    from types import SimpleNamespace

    from knowledge.text import content_words

    name_words = []
    for name in names:
        words = sorted(set(content_words(name)))
        name_words.append((words, [1.0] * len(words), float(len(words))))
    return SimpleNamespace(name_words=name_words, unknown_idf=1.0)


def test_rival_features_read_the_words_only_one_sibling_has():
    from knowledge.ranker import rival_features
    from knowledge.text import content_words

    names = ["Phê duyệt kế hoạch quản lý, bảo trì công trình đường sắt quốc gia",
             "Phê duyệt điều chỉnh kế hoạch quản lý, bảo trì công trình đường sắt quốc gia",
             "Cấp giấy phép xây dựng công trình"]
    searcher = _names_searcher(names)
    said = set(content_words("Kế hoạch bảo trì đường sắt đã duyệt rồi, giờ mưa lũ phải điều chỉnh thì làm sao"))
    out = rival_features(searcher, np.array([0, 1, 2]), np.array([0.9, 0.8, 0.1]), said)
    # The leader (plain plan): nothing of its own; the citizen said the runner-up's "điều chỉnh" (two syllables).
    assert out[0].tolist() == [0.0, 0.0, 2.0]
    # The adjustment: its own "điều chỉnh" is said, nothing of the leader's is missing from it.
    assert out[1].tolist() == [2.0, 0.0, 0.0]
    # The building permit against the leader: "cấp giấy phép xây dựng" unsaid; the leader's words said are
    # "kế hoạch", "bảo trì", "đường sắt" and "duyệt" ("phê" is not said).
    assert out[2][0] == 0.0 and out[2][1] == 5.0 and out[2][2] == 7.0


def test_rival_features_of_a_single_candidate_are_zero():
    from knowledge.ranker import rival_features

    searcher = _names_searcher(["Đăng ký khai sinh"])
    assert rival_features(searcher, np.array([0]), np.array([1.0]), {"khai", "sinh"}).tolist() == [[0.0, 0.0, 0.0]]
