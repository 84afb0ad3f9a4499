"""The actions, run with tracker fixtures and a CollectingDispatcher over a fake searcher."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import ActionHandleFallback, ActionSessionStart, consecutive_fallbacks
from actions.actions_procedure import ActionAnswerProcedure
from core.knowledge_service import KnowledgeService
from knowledge.schema import FaqEntry
from knowledge.search import Hit, SearchResponse
from settings import get_settings
from tests.fakes.knowledge import FakeSearcher, FakeStore, abstaining_service, failing_service
from tests.fakes.responses import ROOT, render, rendered
from tests.fakes.trackers import make_tracker


def hit(code, name, score):
    return Hit(code=code, name=name, kind="procedure", url="", score=score)


def run(action, tracker, domain=None):
    """The messages as the citizen gets them (domain.yml's responses filled) and the events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return rendered(dispatcher.messages), events


def make_action(birth_registration, responses):
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher(responses), store=FakeStore([birth_registration]))
    return ActionAnswerProcedure(service=service)


def test_answers_documents_and_sets_slots(birth_registration):
    q = "làm giấy khai sinh cần giấy tờ gì"
    found = SearchResponse(q, False, results=[hit("1.001193", "Đăng ký khai sinh", 0.9)])
    action = make_action(birth_registration, {q: found})
    tracker = make_tracker(q, "ask_procedure", entities=[{"entity": "aspect", "value": "documents"}])
    messages, events = run(action, tracker)
    assert messages[0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)\nGiấy tờ phải nộp:")
    assert {"event": "slot", "name": "procedure_code", "value": "1.001193", "timestamp": None} in events
    assert {"event": "slot", "name": "aspect", "value": "documents", "timestamp": None} in events


def test_follow_up_without_topic_uses_current_procedure(birth_registration):
    q = "mất bao lâu?"
    action = make_action(birth_registration, {q: SearchResponse(q, True, no_topic=True)})
    tracker = make_tracker(q, "ask_procedure", entities=[{"entity": "aspect", "value": "duration"}],
                           slots={"procedure_code": "1.001193"})
    messages, _ = run(action, tracker)
    assert "Thời hạn giải quyết:\n- Trực tiếp, trực tuyến: 1 ngày làm việc" in messages[0]["text"]


def test_no_topic_and_no_context_asks_which_procedure(birth_registration):
    q = "phí bao nhiêu?"
    action = make_action(birth_registration, {q: SearchResponse(q, True, no_topic=True)})
    messages, _ = run(action, make_tracker(q, "ask_procedure", entities=[{"entity": "aspect", "value": "fee"}]))
    assert messages[0]["response"] == "utter_procedure_ask_topic"
    assert messages[0]["text"].startswith("Bạn đang hỏi về thủ tục nào ạ?")


def test_unknown_topic_is_admitted_with_handoff_button(birth_registration):
    q = "thủ tục cấp phép bay drone trên sao Hỏa"
    action = make_action(birth_registration, {})
    messages, events = run(action, make_tracker(q, "ask_procedure"))
    assert messages[0]["response"] == "utter_procedure_unknown"
    assert messages[0]["text"].startswith("Xin lỗi, tôi chưa có thông tin về nội dung này")
    assert messages[0]["buttons"] == [{"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"}]
    assert events == []


def test_abstention_offers_possible_procedures_never_an_answer(birth_registration):
    q = "tôi vào Sài Gòn làm ăn hơn một năm, có phải báo với công an xã không"
    response = SearchResponse(q, True, results=[hit("1.004194", "Khai báo tạm vắng", 0.37)],
                              suggestions=[hit("1.004194", "Khai báo tạm vắng", 0.37),
                                           hit("1.004222", "Đăng ký tạm trú", 0.31)])
    action = make_action(birth_registration, {q: response})
    tracker = make_tracker(q, "ask_procedure", entities=[{"entity": "aspect", "value": "documents"}])
    messages, events = run(action, tracker)
    assert messages[0]["response"] == "utter_procedure_suggest"
    assert messages[0]["text"].startswith("Tôi chưa tìm được thủ tục khớp chắc chắn với câu hỏi của bạn.")
    assert "tổng đài 18001096" in messages[0]["text"]
    assert messages[0]["buttons"] == [
        {"title": "Khai báo tạm vắng", "payload": '/choose_procedure{"procedure_code":"1.004194"}'},
        {"title": "Đăng ký tạm trú", "payload": '/choose_procedure{"procedure_code":"1.004222"}'},
        {"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"},
    ]
    # Nothing is answered, so no procedure becomes the conversation's current one; the aspect waits for the tap.
    assert events == [{"event": "slot", "name": "aspect", "value": "documents", "timestamp": None}]


def test_a_complaint_read_as_a_procedure_question_is_offered_the_feedback_form(birth_registration):
    """The NLU says ask_procedure, the search cannot place it, and it has clear feedback words ("bức xúc"): beside
    the suggestions, one button starts the feedback form."""
    q = "tôi rất bức xúc vì ngồi chờ ở bộ phận một cửa phường cả buổi sáng mà không ai tiếp"
    response = SearchResponse(q, True, results=[hit("1.004194", "Khai báo tạm vắng", 0.2)],
                              suggestions=[hit("1.004194", "Khai báo tạm vắng", 0.2)])
    messages, _ = run(make_action(birth_registration, {q: response}), make_tracker(q, "ask_procedure"))
    assert messages[0]["response"] == "utter_procedure_suggest"
    assert messages[0]["buttons"] == [
        {"title": "Khai báo tạm vắng", "payload": '/choose_procedure{"procedure_code":"1.004194"}'},
        {"title": "Gửi phản ánh, kiến nghị", "payload": "/file_feedback"},
        {"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"},
    ]


WHERE_IN_PERSON = FaqEntry(
    id="where_in_person", questions=["Nộp hồ sơ trực tiếp ở đâu?"], source="https://dichvucong.gov.vn/",
    answer="Hồ sơ nộp trực tiếp được tiếp nhận tại bộ phận một cửa của cơ quan giải quyết.")


def faq_hit(entry, score):
    return Hit(code=f"faq:{entry.id}", name=entry.questions[0], kind="faq", url=entry.source, score=score)


def test_an_faq_entry_above_every_procedure_is_answered_with_the_procedures_one_tap_away(birth_registration):
    """The NLU read "bộ phận một cửa ở đâu" as a procedure question; the search is not sure of anything, but its
    top entry is the FAQ entry: its answer comes first, the procedures it found after it as buttons."""
    q = "bộ phận một cửa ở đâu"
    response = SearchResponse(q, True, results=[faq_hit(WHERE_IN_PERSON, 0.02), hit("1.004222", "Đăng ký thường trú",
                                                                                       0.004)],
                              suggestions=[hit("1.004222", "Đăng ký thường trú", 0.004)])
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher({q: response}),
                               store=FakeStore([birth_registration], faq=[WHERE_IN_PERSON]))
    messages, events = run(ActionAnswerProcedure(service=service), make_tracker(q, "ask_procedure"))
    assert messages[0]["text"] == ("Hồ sơ nộp trực tiếp được tiếp nhận tại bộ phận một cửa của cơ quan giải quyết.\n"
                                   "Nguồn: https://dichvucong.gov.vn/")
    assert messages[1]["response"] == "utter_procedure_suggest_after_faq"
    assert messages[1]["text"] == ("Nếu bạn hỏi về một thủ tục cụ thể, có thể là một trong các thủ tục dưới đây "
                                   "(bấm để xem).")
    assert messages[1]["buttons"] == [
        {"title": "Đăng ký thường trú", "payload": '/choose_procedure{"procedure_code":"1.004222"}'},
        {"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"},
    ]
    # No procedure became the current one and no confidence is recorded; the aspect asked waits for the tap.
    assert len(messages) == 2
    assert events == [{"event": "slot", "name": "aspect", "value": "place", "timestamp": None}]


def test_a_procedure_above_the_faq_entry_keeps_the_suggestions(birth_registration):
    """Not sure, and a procedure is on top: suggestions as before, the FAQ entry is not answered."""
    q = "đăng ký thường trú nộp ở đâu"
    response = SearchResponse(q, True, results=[hit("1.004222", "Đăng ký thường trú", 0.4),
                                                faq_hit(WHERE_IN_PERSON, 0.1)],
                              suggestions=[hit("1.004222", "Đăng ký thường trú", 0.4)])
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher({q: response}),
                               store=FakeStore([birth_registration], faq=[WHERE_IN_PERSON]))
    messages, _ = run(ActionAnswerProcedure(service=service), make_tracker(q, "ask_procedure"))
    assert [m["response"] for m in messages] == ["utter_procedure_suggest"]


def test_close_candidates_become_buttons(birth_registration):
    q = "đăng ký khai sinh"
    response = SearchResponse(q, False, ambiguous=True, results=[
        hit("1.001193", "Đăng ký khai sinh", 0.80), hit("1.000656", "Đăng ký khai sinh lưu động", 0.79)])
    messages, _ = run(make_action(birth_registration, {q: response}), make_tracker(q, "ask_procedure"))
    assert messages[0]["response"] == "utter_procedure_choose"
    assert messages[0]["text"] == "Bạn muốn hỏi thủ tục nào dưới đây?"
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/choose_procedure{"procedure_code":"1.001193"}', '/choose_procedure{"procedure_code":"1.000656"}']


def test_choose_button_answers_the_remembered_aspect(birth_registration):
    action = make_action(birth_registration, {})
    tracker = make_tracker('/choose_procedure{"procedure_code":"1.001193"}', "choose_procedure",
                           entities=[{"entity": "procedure_code", "value": "1.001193"}], slots={"aspect": "fee"})
    messages, _ = run(action, tracker)
    assert "Phí, lệ phí:\n- Trực tiếp, trực tuyến: Miễn phí" in messages[0]["text"]


def test_search_failure_gives_apology(birth_registration):
    service = failing_service([birth_registration])
    messages, _ = run(ActionAnswerProcedure(service=service), make_tracker("làm căn cước", "ask_procedure"))
    assert messages[0]["response"] == "utter_procedure_error"
    assert messages[0]["text"].startswith("Xin lỗi, hệ thống tra cứu thủ tục đang gặp sự cố.")


def _fallback_event(text):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "nlu_fallback"}}}


def test_first_fallback_asks_to_rephrase_second_offers_handoff():
    first = make_tracker("asdf qwer", "nlu_fallback", events=[_fallback_event("asdf qwer")])
    assert consecutive_fallbacks(first) == 1
    messages, _ = run(ActionHandleFallback(abstaining_service()), first)
    assert messages[0]["response"] == "utter_fallback_rephrase"
    assert messages[0]["text"].startswith("Xin lỗi, tôi chưa hiểu rõ câu hỏi.")
    second = make_tracker("zzz", "nlu_fallback", events=[_fallback_event("asdf"), {"event": "bot", "text": "..."},
                                                          _fallback_event("zzz")])
    assert consecutive_fallbacks(second) == 2
    messages, _ = run(ActionHandleFallback(abstaining_service()), second)
    assert messages[0]["response"] == "utter_fallback_offer_handoff"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


def test_english_question_gets_english_labels_and_vietnamese_names(birth_registration):
    q = "What documents do I need to register a birth?"
    found = SearchResponse(q, False, results=[hit("1.001193", "Đăng ký khai sinh", 0.9)])
    messages, _ = run(make_action(birth_registration, {q: found}), make_tracker(q, "ask_procedure"))
    text = messages[0]["text"]
    # The official name first (what the counter shows), its English name below.
    assert text.startswith("**Đăng ký khai sinh** (procedure code 1.001193)\nBirth registration\n"
                           "Documents to submit:")
    assert "- Tờ khai đăng ký khai sinh theo mẫu (1 original)" in text
    assert "Source: National Public Service Portal" in text


def test_english_suggestions_show_the_english_names(birth_registration):
    """An English speaker cannot read the official names: the buttons show each procedure's English name."""
    q = "My Vietnamese fiancee and I want to get married here, what do we do?"
    response = SearchResponse(q, True, results=[hit("1.000894", "Đăng ký kết hôn", 0.5)],
                              suggestions=[hit("1.000894", "Đăng ký kết hôn", 0.5),
                                           hit("1.001193", "Đăng ký khai sinh", 0.1)])
    messages, _ = run(make_action(birth_registration, {q: response}), make_tracker(q, "ask_procedure"))
    assert messages[0]["response"] == "utter_procedure_suggest_en"
    assert messages[0]["buttons"] == [
        {"title": "Marriage registration", "payload": '/choose_procedure{"procedure_code":"1.000894"}'},
        {"title": "Birth registration", "payload": '/choose_procedure{"procedure_code":"1.001193"}'},
        {"title": "Talk to an officer", "payload": "/request_human"},
    ]


def test_long_unplaceable_question_is_not_a_follow_up(birth_registration):
    q = "how long does it take to register a foreign-invested company?"
    action = make_action(birth_registration, {q: SearchResponse(q, True)})
    tracker = make_tracker(q, "ask_procedure", slots={"procedure_code": "1.001193"})
    messages, _ = run(action, tracker)
    assert messages[0]["response"] == "utter_procedure_unknown_en"
    assert messages[0]["text"].startswith("Sorry, I have no information on this")


# ---- issue 13, finding 6: entity values are checked against the knowledge base before they stay in a slot ---------


def _validate_slots(birth_registration, text, slots):
    from pathlib import Path

    import yaml
    from rasa_sdk import Tracker

    from actions.actions_procedure import ValidateSlotMappings

    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))
    latest = {"text": text, "intent": {"name": "choose_procedure", "confidence": 1.0},
              "entities": [{"entity": name, "value": value} for name, value in slots.items()]}
    events = [{"event": "user", "text": text, "parse_data": latest}]
    events += [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
    tracker = Tracker(sender_id="x", slots=dict(slots), latest_message=latest, events=events, paused=False,
                      followup_action=None, active_loop={}, latest_action_name="action_extract_slots")
    service = KnowledgeService(searcher_factory=lambda: FakeSearcher({}), store=FakeStore([birth_registration]))
    dispatcher = CollectingDispatcher()
    out = asyncio.run(ValidateSlotMappings(service=service).run(dispatcher, tracker, domain))
    assert dispatcher.messages == []
    return {e["name"]: e["value"] for e in out if e.get("event") == "slot"}


def test_made_up_entity_values_do_not_become_slots(birth_registration):
    text = '/choose_procedure{"procedure_code":"=2+3","aspect":"@SUM(A1)"}'
    assert _validate_slots(birth_registration, text, {"procedure_code": "=2+3", "aspect": "@SUM(A1)"}) == {
        "procedure_code": None, "aspect": None}
    # The right shape is not enough: the code must be a procedure of the knowledge base.
    assert _validate_slots(birth_registration, text, {"procedure_code": "1.999999"}) == {"procedure_code": None}


def test_known_entity_values_become_slots(birth_registration):
    text = '/choose_procedure{"procedure_code":"1.001193"}'
    assert _validate_slots(birth_registration, text, {"procedure_code": "1.001193", "aspect": "fee"}) == {
        "procedure_code": "1.001193", "aspect": "fee"}


def test_choosing_an_unknown_code_empties_the_slot(birth_registration):
    action = make_action(birth_registration, {})
    tracker = make_tracker('/choose_procedure{"procedure_code":"=2+3"}', "choose_procedure",
                           entities=[{"entity": "procedure_code", "value": "=2+3"}],
                           slots={"procedure_code": "=2+3"})
    messages, events = run(action, tracker)
    assert messages[0]["response"] == "utter_procedure_not_found"
    assert messages[0]["text"] == "Tôi không tìm thấy thủ tục có mã =2+3 trong dữ liệu."
    assert events == [{"event": "slot", "timestamp": None, "name": "procedure_code", "value": None}]


@pytest.fixture
def hotline(monkeypatch):
    """SUPPORT_HOTLINE set to a number that is not the default, for this test only."""
    monkeypatch.setenv("SUPPORT_HOTLINE", "1900 1234")
    get_settings.cache_clear()
    yield "1900 1234"
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_support_hotline_of_the_settings_is_the_one_every_response_names(hotline):
    # Responses of the actions get it from the action.
    messages, _ = run(ActionAnswerProcedure(service=failing_service()), make_tracker("làm căn cước", "ask_procedure"))
    assert messages[0]["text"].endswith(f"hoặc gọi tổng đài {hotline}.")
    # Responses Rasa sends on its own (the FAQ answers) get it from the slot set at every session start, carried
    # over or not.
    previous = make_tracker("xin chào", "greet", slots={"hotline": "18001096", "procedure_code": "1.001193"})
    for carry_over in (True, False):
        _, events = run(ActionSessionStart(), previous,
                        {"session_config": {"carry_over_slots_to_new_session": carry_over}})
        slots = [(e["name"], e["value"]) for e in events if e["event"] == "slot"]
        assert slots[-1] == ("hotline", hotline) and [name for name, _ in slots].count("hotline") == 1
    faq = render({"response": "utter_faq/track_application"}, slots={"hotline": hotline})
    assert f"bạn gọi tổng đài {hotline}." in faq["text"]
    # No response of domain.yml writes a number of its own.
    assert "18001096" not in (ROOT / "domain.yml").read_text(encoding="utf-8")
