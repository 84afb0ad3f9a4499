"""The dialogue evaluation's reading of replies (scripts/eval_dialogue.py): the reply classifier, the outcome of a
conversation, the summary and its floors, the question sample, and the KB_BANK_SPLITS setting that hides the
bank's test split.

Replies are the bot's real texts: answers formatted by core/answers.py from procedures of the knowledge
base, the messages of the actions (run for real where they need no service) and the responses of domain.yml.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

import settings as settings_module
from actions.actions_dialogue import ActionHandleFallback
from actions.actions_feedback import ActionAskFeedbackContent, ActionAskFeedbackTopic
from actions.actions_handoff import ActionOfferHandoff
from actions.actions_procedure import (
    HUMAN_BUTTON_TITLE,
    SOURCE_LABEL,
    ActionAnswerProcedure,
    choose_payload,
    in_language,
)
from actions.actions_rating import ActionAskRating
from actions.actions_status import ActionAskApplicationCode, ActionAskStatusVerification
from core.answers import ASPECTS, format_answer
from core.narrowing import get_narrowing
from knowledge.bank import STYLES, load_bank, load_strangers
from knowledge.store import get_procedure, load_faq
from scripts.eval_dialogue import (
    REPLY_KINDS,
    answered_codes,
    check_floors,
    classify_reply,
    judge,
    narrow_buttons,
    offered_codes,
    questions_source,
    sample_questions,
    strangers_questions,
    summarize,
    tap_payload,
)
from settings import ROOT
from tests.fakes.knowledge import abstaining_service
from tests.fakes.responses import rendered, response_text
from tests.fakes.trackers import make_tracker

HOTLINE = "18001096"
BIRTH, MARRIAGE, SINGLE = "1.001193", "1.000894", "1.004873"
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def run(action, tracker=None):
    """The messages a real action sends (as the REST channel returns them: text and buttons)."""
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker or make_tracker("xin chào", "greet"), {}))
    return [{k: v for k, v in m.items() if k in ("text", "buttons") and v} for m in rendered(dispatcher.messages)]


def said(response, lang="vi", **values):
    """The text of a procedure response of domain.yml in ``lang``, filled with ``values``."""
    return response_text(in_language(response, lang), **values)


def button(code, name="Thủ tục"):
    """A procedure button as actions/actions_procedure.py builds it."""
    return {"title": name, "payload": choose_payload(procedure_code=code)}


HUMAN = {"title": HUMAN_BUTTON_TITLE["vi"], "payload": "/request_human"}


def answer(code, aspect=None, lang="vi"):
    return [{"text": format_answer(get_procedure(code), aspect, lang)}]


def choose(*codes, lang="vi"):
    return [{"text": said("utter_procedure_choose", lang), "buttons": [button(c) for c in codes]}]


def suggest(*codes, lang="vi"):
    return [{"text": said("utter_procedure_suggest", lang, hotline=HOTLINE),
             "buttons": [*(button(c) for c in codes), {**HUMAN, "title": HUMAN_BUTTON_TITLE[lang]}]}]


def domain_response(name):
    return [{"text": response_text(name, hotline=HOTLINE)}]


# ---- classify_reply -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect", [None, *ASPECTS])
def test_every_answer_of_a_procedure_is_an_answer_with_its_code(aspect):
    reply = answer(BIRTH, aspect)
    assert reply[0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)\n")
    assert classify_reply(reply) == "answer"
    assert answered_codes(reply) == [BIRTH]
    assert offered_codes(reply) == []


def test_english_answer_and_the_local_level_note_are_answers():
    reply = answer(SINGLE, "fee", lang="en")
    assert "(procedure code 1.004873)" in reply[0]["text"].splitlines()[0]
    assert classify_reply(reply) == "answer" and answered_codes(reply) == [SINGLE]
    reply = [{"text": said("utter_procedure_local_level", answer=answer(MARRIAGE, "place")[0]["text"], level="cấp xã",
                           province="Bắc Ninh")}]
    assert classify_reply(reply) == "answer" and answered_codes(reply) == [MARRIAGE]


def test_several_aspects_and_the_joined_procedure_note_are_one_answer():
    reply = [{"text": format_answer(get_procedure(BIRTH), ["fee", "duration", "documents"])}]
    assert classify_reply(reply) == "answer" and answered_codes(reply) == [BIRTH]
    reply = [{"text": said("utter_procedure_joined")}, {"text": format_answer(get_procedure("2.000986"), None)}]
    assert classify_reply(reply) == "answer" and answered_codes(reply) == ["2.000986"]


def test_several_procedures_answered_in_one_turn_are_all_read_in_order():
    reply = answer(BIRTH, "documents") + answer(MARRIAGE, "fee")
    assert answered_codes(reply) == [BIRTH, MARRIAGE]
    joined = [{"text": reply[0]["text"] + "\n\n" + reply[1]["text"]}]
    assert answered_codes(joined) == [BIRTH, MARRIAGE]
    assert classify_reply(reply) == "several"
    several = ([{"text": said("utter_procedure_several", count=2)}]
               + [{"text": format_answer(get_procedure(c), None, brief=True)} for c in (BIRTH, MARRIAGE)])
    assert classify_reply(several) == "several" and judge(MARRIAGE, several) == "right_at_once"


def test_a_code_quoted_in_the_body_is_not_an_answer():
    reply = [{"text": "Bạn có thể xem thủ tục **Đăng ký khai sinh** (mã thủ tục 1.001193) trên Cổng."}]
    assert answered_codes(reply) == []


def test_list_of_procedure_names_and_its_buttons_can_be_tapped():
    reply = choose(BIRTH, MARRIAGE, SINGLE)
    assert classify_reply(reply) == "choose"
    assert offered_codes(reply) == [BIRTH, MARRIAGE, SINGLE]
    assert tap_payload(reply, MARRIAGE) == '/choose_procedure{"procedure_code":"1.000894"}'
    assert tap_payload(reply, "1.999999") is None
    assert narrow_buttons(reply) == 0
    assert classify_reply(choose(BIRTH, MARRIAGE, lang="en")) == "choose"


def narrowing(*codes, number=1):
    """The narrowing question the procedure action asks between these siblings (its real _ask)."""
    question = get_narrowing().plan([get_procedure(code) for code in codes], number=number)
    dispatcher = CollectingDispatcher()
    ActionAnswerProcedure()._ask(dispatcher, question)
    return [{k: v for k, v in m.items() if k in ("text", "buttons") and v} for m in dispatcher.messages]


def test_narrowing_question_with_one_procedure_per_button():
    reply = narrowing("3.000348", "3.000347", "3.000346")
    assert reply[0]["text"] == "Về giấy phép lái xe: bạn cần cấp lại (mất, hỏng), cấp đổi hay làm lần đầu?"
    assert classify_reply(reply) == "narrow"
    assert offered_codes(reply) == ["3.000348", "3.000347", "3.000346"]
    assert tap_payload(reply, "3.000347") == '/choose_procedure{"procedure_code":"3.000347"}'
    assert narrow_buttons(reply) == 0
    reply = narrowing("1.000894", "2.000806")
    assert classify_reply(reply) == "narrow" and offered_codes(reply) == ["1.000894", "2.000806"]


def test_narrowing_option_covering_several_siblings_is_not_a_tap_on_the_procedure():
    reply = narrowing("2.001194", "1.000889", "1.014064")
    assert [b["payload"] for b in reply[0]["buttons"]] == ['/choose_procedure{"narrow_value":"cap_lai"}',
                                                           '/choose_procedure{"procedure_code":"1.000889"}']
    assert classify_reply(reply) == "narrow"
    assert offered_codes(reply) == ["1.000889"] and narrow_buttons(reply) == 1
    assert tap_payload(reply, "2.001194") is None
    assert judge("2.001194", reply) == "no_procedure"


def test_suggestions_with_the_officer_button():
    reply = suggest(SINGLE, BIRTH)
    assert reply[0]["text"].startswith("Tôi chưa tìm được thủ tục khớp chắc chắn")
    assert classify_reply(reply) == "suggest"
    assert offered_codes(reply) == [SINGLE, BIRTH]
    assert tap_payload(reply, SINGLE) == '/choose_procedure{"procedure_code":"1.004873"}'
    assert tap_payload(reply, "/request_human") is None
    assert classify_reply(suggest(SINGLE, lang="en")) == "suggest"


def test_nothing_found_with_only_the_officer_button():
    reply = [{"text": said("utter_procedure_unknown", hotline=HOTLINE), "buttons": [HUMAN]}]
    assert classify_reply(reply) == "not_found"
    assert offered_codes(reply) == [] and tap_payload(reply, BIRTH) is None
    reply = [{"text": said("utter_procedure_unknown", "en", hotline=HOTLINE),
              "buttons": [{"title": HUMAN_BUTTON_TITLE["en"], "payload": "/request_human"}]}]
    assert classify_reply(reply) == "not_found"


def test_which_procedure_question_and_search_error():
    assert classify_reply([{"text": said("utter_procedure_ask_topic")}]) == "ask_topic"
    assert classify_reply([{"text": said("utter_procedure_ask_topic", "en")}]) == "ask_topic"
    assert classify_reply([{"text": said("utter_procedure_error", hotline=HOTLINE)}]) == "error"
    assert classify_reply([{"text": said("utter_procedure_error", "en", hotline=HOTLINE)}]) == "error"


def test_status_form_replies():
    assert run(ActionAskApplicationCode())[0]["text"].startswith("Bạn cho tôi xin mã hồ sơ")
    assert classify_reply(run(ActionAskApplicationCode())) == "status"
    assert classify_reply(run(ActionAskStatusVerification())) == "status"
    assert classify_reply([{"text": response_text("utter_status_bad_code")}]) == "status"
    assert classify_reply([{"text": response_text("utter_status_missing")}]) == "status"
    assert classify_reply([{"text": response_text("utter_status_no_match", hotline=HOTLINE)}]) == "status"
    # The lookup system being down is an error apology, whatever the route.
    assert classify_reply([{"text": response_text("utter_status_error", url="https://x", hotline=HOTLINE)}]) == "error"


def test_feedback_form_replies():
    topic = run(ActionAskFeedbackTopic())
    assert [b["payload"] for b in topic[0]["buttons"]][:2] == ["hạ tầng", "môi trường"]
    assert classify_reply(topic) == "feedback"
    assert classify_reply(run(ActionAskFeedbackContent())) == "feedback"
    assert classify_reply([{"text": response_text("utter_feedback_lookup_ask_code")}]) == "feedback"


def test_handoff_offer_in_and_out_of_office_hours_and_after_two_fallbacks():
    monday_morning = datetime(2026, 11, 30, 9, 0, tzinfo=VN)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=VN)
    for now in (monday_morning, saturday):
        reply = run(ActionOfferHandoff(clock=lambda now=now: now))
        assert [b["payload"] for b in reply[0]["buttons"]] == ["/affirm", "/deny"]
        assert classify_reply(reply) == "handoff"
    fallback = {"event": "user", "text": "asdf", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    # The fallback action first asks the knowledge search; one that places nothing leaves the fallback replies.
    once = run(ActionHandleFallback(abstaining_service()), make_tracker("asdf", "nlu_fallback", events=[fallback]))
    twice = run(ActionHandleFallback(abstaining_service()),
                make_tracker("asdf", "nlu_fallback", events=[fallback, fallback]))
    assert classify_reply(once) == "fallback"
    assert classify_reply(twice) == "handoff"


def test_domain_responses():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    faq = [name for name in domain["responses"] if name.startswith("utter_faq/")]
    assert len(faq) >= 7
    for name in faq:
        assert classify_reply(domain_response(name)) == "faq", name
    assert classify_reply(domain_response("utter_out_of_scope")) == "out_of_scope"
    assert classify_reply(domain_response("utter_default")) == "fallback"
    for name in ("utter_greet", "utter_iamabot", "utter_you_are_welcome", "utter_form_cancelled",
                 "utter_handoff_declined"):
        assert classify_reply(domain_response(name)) == "other", name


def test_knowledge_base_faq_answers_as_the_procedure_action_sends_them():
    entries = load_faq()
    assert entries
    for entry in entries:
        reply = [{"text": f"{entry.answer}\n{SOURCE_LABEL['vi']}: {entry.source}"}]
        assert classify_reply(reply) == "faq", entry.id


def test_rating_question_and_empty_turn_are_other():
    reply = run(ActionAskRating())
    assert len(reply[0]["buttons"]) == 5
    assert classify_reply(reply) == "other"
    assert classify_reply([]) == "other"


def test_an_answer_wins_over_a_form_question_in_the_same_turn():
    reply = answer(BIRTH, "fee") + run(ActionAskApplicationCode())
    assert classify_reply(reply) == "answer"
    assert set(REPLY_KINDS) >= {"answer", "narrow", "choose", "suggest", "not_found", "status", "feedback", "handoff",
                                "faq"}


# ---- judge --------------------------------------------------------------------------------------------------


def test_right_at_once_wrong_and_no_procedure():
    assert judge(BIRTH, answer(BIRTH, "documents")) == "right_at_once"
    assert judge(BIRTH, answer(MARRIAGE, "documents")) == "wrong"
    assert judge(BIRTH, answer(MARRIAGE) + answer(BIRTH)) == "right_at_once"
    assert judge(BIRTH, suggest(MARRIAGE, SINGLE)) == "no_procedure"
    assert judge(BIRTH, domain_response("utter_faq/vneid_login")) == "no_procedure"
    assert judge(BIRTH, run(ActionAskApplicationCode())) == "no_procedure"


def test_one_tap():
    first = choose(MARRIAGE, BIRTH)
    assert judge(BIRTH, first, answer(BIRTH, "fee")) == "right_after_tap"
    assert judge(BIRTH, suggest(BIRTH), answer(BIRTH)) == "right_after_tap"
    assert judge(BIRTH, first, answer(MARRIAGE)) == "wrong"
    assert judge(BIRTH, first, [{"text": said("utter_procedure_not_found", code=BIRTH)}]) == "no_procedure"
    assert judge(BIRTH, first, None) == "no_procedure"
    # A wrong first answer stays wrong, whatever follows.
    assert judge(BIRTH, answer(MARRIAGE), answer(BIRTH)) == "wrong"


def test_a_strangers_question_accepts_its_level_variants():
    # Two codes accepted (as a code and its level variant are): answering either is right, either button a tap.
    expected = [MARRIAGE, SINGLE]
    assert judge(expected, answer(SINGLE, "fee")) == "right_at_once"
    assert judge(expected, answer(BIRTH)) == "wrong"
    assert tap_payload(suggest(BIRTH, SINGLE), expected) == '/choose_procedure{"procedure_code":"1.004873"}'
    assert judge(expected, suggest(BIRTH, SINGLE), answer(SINGLE)) == "right_after_tap"
    assert judge([], answer(BIRTH)) == "oos_answered"


def test_the_strangers_set_is_asked_whole_with_its_expected_codes():
    items = strangers_questions("test")
    records = load_strangers("test")
    assert [(i["q"], i["code"], i["expected"]) for i in items] == [(r["q"], r["code"], r["expected"]) for r in records]
    assert len({i["id"] for i in items}) == len(items) >= 200
    assert all(i["family"] for i in items if i["code"]) and not any(i["family"] for i in items if not i["code"])


def test_report_header_names_the_set_it_measured():
    base = {"seed": 14}
    assert questions_source({**base, "set": "bank"}).startswith("of the bank's test split, stratified by style "
                                                               "(seed 14")
    assert questions_source({**base, "set": "strangers"}).startswith("of the strangers' test set")
    assert questions_source({**base, "set": "strangers-cal"}).startswith("of the strangers' calibration set")
    assert len(strangers_questions("calibration")) == len(load_strangers("calibration")) >= 200


def test_unanswerable_questions():
    assert judge(None, domain_response("utter_out_of_scope")) == "oos_handled"
    assert judge(None, suggest(BIRTH)) == "oos_handled"
    assert judge(None, [{"text": said("utter_procedure_unknown", hotline=HOTLINE), "buttons": [HUMAN]}]) == \
        "oos_handled"
    assert judge(None, answer(SINGLE)) == "oos_answered"


# ---- summary and floors ---------------------------------------------------------------------------------------


def row(style, code, outcome, kind, answered=(), latency=(0.1,), family=None):
    return {"q": "?", "style": style, "code": code, "family": family or code, "topic": "", "outcome": outcome,
            "kind": kind, "answered": list(answered), "offered": [], "answered_after_tap": [],
            "latency_s": list(latency)}


ROWS = [
    row("story", BIRTH, "right_at_once", "answer", [BIRTH], (0.1,)),
    row("story", BIRTH, "right_after_tap", "narrow", (), (0.2, 0.05)),
    row("story", BIRTH, "wrong", "answer", ["1.001022"], (0.3,), family="1.001022"),
    row("story", MARRIAGE, "no_procedure", "faq", (), (0.4,)),
    row("short", SINGLE, "right_at_once", "answer", [SINGLE], (0.5,)),
    row("short", SINGLE, "wrong", "answer", [BIRTH], (0.6,)),
    row("teencode", None, "oos_handled", "out_of_scope", (), (0.7,)),
    row("story", None, "oos_answered", "answer", [BIRTH], (0.8,)),
]


def test_summary_rates_routing_and_latency():
    summary = summarize(ROWS, families={"1.001022": "1.001022", BIRTH: BIRTH})
    assert summary["n"] == 8 and summary["answerable"] == 6
    assert summary["styles"]["story"] == {
        "n": 4, "right_at_once": 0.25, "right_after_tap": 0.25, "wrong": 0.25, "no_procedure": 0.25,
        "right_or_tap": 0.5, "counts": {"right_at_once": 1, "right_after_tap": 1, "wrong": 1, "no_procedure": 1,
                                        "wrong_sibling": 1}}
    assert summary["overall"]["right_at_once"] == 0.333 and summary["overall"]["right_or_tap"] == 0.5
    assert summary["overall"]["wrong"] == 0.333 and summary["overall"]["counts"]["wrong_sibling"] == 1
    assert list(summary["styles"]) == ["story", "short"]  # bank style order, only styles measured
    assert summary["out_of_scope"] == {"n": 2, "handled": 0.5, "counts": {"handled": 1, "answered": 1}}
    assert summary["routing"] == {"story": {"answer": 2, "narrow": 1, "faq": 1}, "short": {"answer": 2},
                                  "unanswerable": {"answer": 1, "out_of_scope": 1}}
    latency = summary["latency"]
    assert latency["turns"] == 9 and latency["tap_turns"] == 1
    assert latency["p50_ms"] == 400.0 and latency["p95_ms"] == 800.0 and latency["max_ms"] == 800.0
    assert latency["first_p50_ms"] == 400.0 and latency["tap_p50_ms"] == 50.0
    assert summary["http_errors"] == 0


def test_floors_and_ceilings():
    summary = summarize(ROWS)
    floors = {"_comment": "ignored", "overall": {"right_or_tap": 0.5, "right_at_once": 0.4, "max_wrong": 0.3},
              "styles": {"story": {"right_or_tap": 0.5}, "english": {"right_or_tap": 0.5}},
              "out_of_scope": {"handled": 0.5}, "latency": {"max_p95_ms": 500}, "max_http_errors": 0}
    assert check_floors(summary, floors) == [
        "overall.right_at_once 0.333 < 0.4",
        "overall.wrong 0.333 > 0.3",
        "styles.english.right_or_tap: not measured",
        "latency.p95_ms 800.0 > 500",
    ]
    assert check_floors(summary, {"overall": {"right_or_tap": 0.5}, "max_http_errors": 0}) == []


def test_committed_floor_files_name_only_measured_metrics():
    summary = summarize(ROWS)
    for name in ("regression.json", "regression_strangers.json", "sample.json"):
        floors = json.loads((ROOT / "tests" / "dialogue" / name).read_text(encoding="utf-8"))
        missed = check_floors(summary, floors)
        assert not [m for m in missed if m.endswith("not measured") and not m.startswith("styles.")], missed


# ---- the sample -----------------------------------------------------------------------------------------------


def test_sample_is_seeded_stratified_and_from_the_test_split_only():
    items = sample_questions(320, 40, seed=14)
    assert items == sample_questions(320, 40, seed=14)
    assert items != sample_questions(320, 40, seed=15)
    answerable = [i for i in items if i["code"]]
    assert Counter(i["style"] for i in answerable) == {style: 40 for style in STYLES}
    assert len(items) - len(answerable) == 40
    test_split = {(q.code, q.q) for q in load_bank(splits=("test",))}
    train_split = {(q.code, q.q) for q in load_bank(splits=("train",))}
    assert all((i["code"], i["q"]) in test_split for i in items)
    assert not any((i["code"], i["q"]) in train_split for i in items)
    assert len({i["q"] for i in items}) == len(items)
    assert len({i["id"] for i in items}) == len(items)
    # Within a style, one question per procedure before any second one.
    for style in STYLES:
        codes = [i["code"] for i in answerable if i["style"] == style]
        assert len(set(codes)) == len(codes), style
    # Unanswerable questions spread over their topics.
    assert len({i["topic"] for i in items if not i["code"]}) == 8


def test_small_sample_spreads_over_styles():
    items = sample_questions(12, 3, seed=1)
    assert [sum(1 for i in items if i["style"] == s and i["code"]) for s in STYLES] == [2, 2, 2, 2, 1, 1, 1, 1]
    assert sum(1 for i in items if not i["code"]) == 3


# ---- KB_BANK_SPLITS ------------------------------------------------------------------------------------------


def test_bank_splits_setting(monkeypatch):
    monkeypatch.delenv("KB_BANK_SPLITS", raising=False)
    assert settings_module.Settings.from_env().kb_bank_splits == ()
    monkeypatch.setenv("KB_BANK_SPLITS", "train")
    assert settings_module.Settings.from_env().kb_bank_splits == ("train",)
    monkeypatch.setenv("KB_BANK_SPLITS", "train, test")
    assert settings_module.Settings.from_env().kb_bank_splits == ("train", "test")
    monkeypatch.setenv("KB_BANK_SPLITS", "trian")
    with pytest.raises(ValueError, match="KB_BANK_SPLITS: unknown split"):
        settings_module.Settings.from_env()


def test_the_process_wide_searcher_and_the_health_route_follow_kb_bank_splits(tmp_path, monkeypatch):
    from knowledge import search as search_module
    from knowledge.bank import Question
    from knowledge.encoder import HashingEncoder
    from knowledge.index import build_index
    from knowledge.search import bank_text_function
    from rasa_sdk_plugins.index_health import IndexHealth
    from tests.fakes.knowledge import ENTRIES

    bank = [
        Question("1.004222", "chuyển hộ khẩu về nhà chồng ở xã khác", "story", "train", "1.004222", "b", 1),
        Question("1.004222", "nhap ho khau cho vo", "no_diacritics", "test", "1.004222", "b", 2),
        Question(None, "lương hưu năm nay tăng bao nhiêu", "short", "test", None, "u", 1, "policy_amount"),
    ]
    out = tmp_path / "kb-index"
    build_index(ENTRIES, HashingEncoder(64), out, src_hash="abc", bank=bank, bank_text=bank_text_function(out))
    monkeypatch.setenv("KB_INDEX_DIR", str(out))
    monkeypatch.setenv("KB_ENCODER", "hashing:64")
    monkeypatch.setenv("REVIEW_APPROVED_FILE", str(tmp_path / "approved.jsonl"))  # none: the index's bank alone
    monkeypatch.setenv("REVIEW_LIVE_DIR", str(tmp_path / "live"))
    caches = (settings_module.get_settings, search_module.get_searcher)
    try:
        for splits, active, reported in (("train", [True, False, False], ["train"]),
                                         ("", [True, True, True], ["train", "test", "approved"])):
            monkeypatch.setenv("KB_BANK_SPLITS", splits)
            for cache in caches:
                cache.cache_clear()
            assert search_module.get_searcher().bank_active.tolist() == active
            assert IndexHealth(lambda: out).check()["bank_splits"] == reported
    finally:
        for cache in caches:
            cache.cache_clear()
