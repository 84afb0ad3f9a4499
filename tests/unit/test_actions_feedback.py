"""Feedback actions: the form's extraction/validation, filing (durable before the acknowledgement), lookup."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.actions_feedback import (
    SKIPPED,
    ActionAskFeedbackConsent,
    ActionAskFeedbackTopic,
    ActionFeedbackStatus,
    ActionFileFeedback,
    ValidateFeedbackForm,
    content_of_request,
    match_topic,
)
from core.db import Database
from core.feedback import FeedbackStore
from core.status.ratelimit import AttemptLimiter
from tests.fakes.actions import run_action as run
from tests.fakes.actions import slots_of
from tests.fakes.responses import response_text
from tests.fakes.trackers import form_tracker

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# The acknowledgement's last sentence when the citizen left a phone number.
LOOKUP_ELSEWHERE = (" Khi tra cứu từ cuộc trò chuyện hoặc thiết bị khác, bạn nhắn kèm 4 chữ số cuối của số điện "
                    "thoại đã để lại.")


def tracker(text, intent="inform", slots=None, requested=None, channel="rest", sender="citizen-3"):
    """A tracker inside the feedback form whose latest message is ``text``."""
    return form_tracker("feedback_form", text, intent, slots=slots, requested=requested, sender=sender,
                        channel=channel)




def validate(text, intent="inform", requested=None, slots=None):
    return run(ValidateFeedbackForm(), tracker(text, intent, slots=slots, requested=requested))


@pytest.fixture
def store(tmp_path):
    clock = lambda: datetime(2025, 11, 27, 14, 5, tzinfo=VN)  # noqa: E731
    return FeedbackStore(Database(str(tmp_path / "services.db")), clock=clock)


# ---- form ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, topic", [("Môi trường", "môi trường"), ("moi truong", "môi trường"),
                                          ("Thái độ cán bộ", "thái độ cán bộ"), ("khác", "khác")])
def test_topic_from_buttons_or_typed(typed, topic):
    assert match_topic(typed) == topic
    messages, events = validate(typed, requested="feedback_topic")
    assert messages == [] and slots_of(events) == {"feedback_topic": topic}


def test_unknown_topic_lists_the_taxonomy():
    messages, events = validate("cái gì cũng được", requested="feedback_topic")
    assert "hạ tầng, môi trường, trật tự đô thị" in messages[0]["text"]
    assert slots_of(events) == {"feedback_topic": None}


def test_topic_question_has_one_button_per_topic():
    messages, _ = run(ActionAskFeedbackTopic(), tracker("x"))
    assert messages[0]["response"] == "utter_ask_feedback_topic"
    assert messages[0]["text"] == "Phản ánh của bạn thuộc lĩnh vực nào ạ?"
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "hạ tầng", "môi trường", "trật tự đô thị", "thủ tục hành chính", "thái độ cán bộ", "khác"]


def test_content_is_kept_verbatim():
    text = "Đèn đường ngõ 5 Lý Thái Tổ   hỏng 2 tuần rồi!!! Tối đi rất nguy hiểm 😟"
    _, events = validate(text, "file_feedback", requested="feedback_content")
    assert slots_of(events) == {"feedback_content": text}


def test_triggering_message_that_describes_the_problem_becomes_the_content():
    text = "tôi muốn phản ánh đường liên thôn bị sụt lún rất nguy hiểm"
    _, events = validate(text, "file_feedback")  # form activation: nothing requested yet
    assert slots_of(events) == {"feedback_content": text}
    assert content_of_request("tôi muốn gửi phản ánh kiến nghị") is None
    assert content_of_request("cho mình gửi góp ý với") is None


def test_short_no_during_free_text_questions_stops_the_form():
    # Nothing extracted → the form is rejected and the "stop" rule runs (data/rules/forms.yml).
    _, events = validate("không", "deny", requested="feedback_location")
    assert "feedback_location" not in slots_of(events)
    _, events = validate("không có đèn đường ở ngõ 5 suốt cả tháng nay", "deny", requested="feedback_content")
    assert slots_of(events) == {"feedback_content": "không có đèn đường ở ngõ 5 suốt cả tháng nay"}


def test_location_is_free_text_whatever_the_nlu_thinks():
    _, events = validate("phường Đông Ngàn, thị xã Từ Sơn", "faq", requested="feedback_location")
    assert slots_of(events) == {"feedback_location": "phường Đông Ngàn, thị xã Từ Sơn"}
    _, events = validate("làm giấy khai sinh cần giấy tờ gì", "ask_procedure", requested="feedback_topic")
    assert slots_of(events) == {}  # at the topic question a procedure question is a change of subject


@pytest.mark.parametrize("typed, intent, expected", [
    ("0912 345 678", "inform", "0912345678"), ("dan@example.com", "inform", "dan@example.com"),
    # Found by the load test: dotted phone numbers look like procedure codes to the NLU.
    ("0987.654.321", "choose_procedure", "0987654321"), ("0987.654.321", "check_application_status", "0987654321"),
])
def test_valid_contact(typed, intent, expected):
    messages, events = validate(typed, intent, requested="feedback_contact")
    assert messages == [] and slots_of(events) == {"feedback_contact": expected}


def test_invalid_contact_is_asked_again():
    messages, events = validate("số nhà tôi 12", requested="feedback_contact")
    assert messages[0]["response"] == "utter_feedback_bad_contact"
    assert messages[0]["text"] == response_text("utter_feedback_bad_contact")
    assert slots_of(events) == {"feedback_contact": None}


@pytest.mark.parametrize("typed, intent", [("bỏ qua", "inform"), ("Bo qua", "nlu_fallback"), ("không", "deny")])
def test_skipping_the_contact_also_skips_consent(typed, intent):
    _, events = validate(typed, intent, requested="feedback_contact")
    assert slots_of(events) == {"feedback_contact": SKIPPED, "feedback_consent": False}


@pytest.mark.parametrize("typed, intent, value", [("/affirm", "affirm", True), ("đồng ý", "affirm", True),
                                                  ("không", "deny", False)])
def test_consent(typed, intent, value):
    _, events = validate(typed, intent, requested="feedback_consent", slots={"feedback_contact": "0912345678"})
    assert slots_of(events) == {"feedback_consent": value}


def test_consent_question_names_the_contact():
    messages, _ = run(ActionAskFeedbackConsent(), tracker("x", slots={"feedback_contact": "0912345678"}))
    assert messages[0]["text"] == "Bạn có đồng ý để cán bộ xử lý liên hệ với bạn qua 0912345678 không?"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


# ---- filing and lookup (real SQLite store) ---------------------------------------------------------------


FILLED = {
    "feedback_topic": "hạ tầng",
    "feedback_content": "Đường liên thôn   bị sụt lún, xe máy ngã 2 lần!",
    "feedback_location": "thôn Đông, xã Tân Chi, Tiên Du",
    "feedback_contact": "0912345678",
    "feedback_consent": True,
}


def test_report_is_stored_before_the_acknowledgement(store):
    messages, events = run(ActionFileFeedback(store=store), tracker("/affirm", "affirm", slots=FILLED))
    assert "PA-251127-0001" in messages[0]["text"]
    report = store.get("PA-251127-0001")  # committed: readable through the store now
    assert report.content == FILLED["feedback_content"]  # verbatim, spaces and all
    assert (report.topic, report.location, report.contact, report.consent) == (
        "hạ tầng", FILLED["feedback_location"], "0912345678", True)
    assert report.channel == "rest" and report.sender_id == "citizen-3"
    assert all(v is None for v in slots_of(events).values())  # the form is cleared for the next report
    assert messages[0]["response"] == "utter_feedback_filed_contact_phone"
    assert "Cán bộ xử lý có thể liên hệ với bạn qua 0912345678." in messages[0]["text"]
    assert messages[0]["text"].endswith(LOOKUP_ELSEWHERE)  # how to look it up from elsewhere


def test_skipped_contact_is_stored_as_none(store):
    slots = {**FILLED, "feedback_contact": SKIPPED, "feedback_consent": False}
    messages, _ = run(ActionFileFeedback(store=store), tracker("bỏ qua", slots=slots))
    report = store.get("PA-251127-0001")
    assert report.contact is None and report.consent is False
    assert messages[0]["response"] == "utter_feedback_filed_no_contact"
    assert "chưa đồng ý" in messages[0]["text"]
    assert LOOKUP_ELSEWHERE not in messages[0]["text"]  # no phone: no digits to give


def test_store_failure_gives_no_code():
    class Broken:
        def create(self, **kwargs):
            raise OSError("disk I/O error")

    messages, _ = run(ActionFileFeedback(store=Broken()), tracker("/affirm", "affirm", slots=FILLED))
    assert "PA-" not in messages[0]["text"] and "chưa lưu được" in messages[0]["text"]
    assert "disk" not in messages[0]["text"]


def test_lookup_shows_status_and_staff_note(store):
    run(ActionFileFeedback(store=store), tracker("/affirm", "affirm", slots=FILLED))
    store.set_status("PA-251127-0001", "Đang xử lý", "Đã giao UBND xã Tân Chi kiểm tra hiện trường", "cb.ha")
    messages, _ = run(ActionFeedbackStatus(store=store), tracker("tra cứu phản ánh pa 251127 0001",
                                                                 "check_feedback_status"))
    assert "PA-251127-0001" in messages[0]["text"]
    assert "Đang xử lý" in messages[0]["text"]
    assert "Đã giao UBND xã Tân Chi kiểm tra hiện trường" in messages[0]["text"]


def test_lookup_without_code_or_with_unknown_code(store):
    messages, _ = run(ActionFeedbackStatus(store=store), tracker("tra cứu phản ánh", "check_feedback_status"))
    assert messages[0]["response"] == "utter_feedback_lookup_ask_code"
    assert messages[0]["text"] == response_text("utter_feedback_lookup_ask_code")
    messages, _ = run(ActionFeedbackStatus(store=store), tracker("PA-251127-0999", "check_feedback_status"))
    assert messages[0]["text"] == response_text("utter_feedback_lookup_ask_digits", code="PA-251127-0999")


# ---- lookup by someone else: codes are sequential, so a code alone shows nothing (issue 13, finding 5) ------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 11, 27, 15, 0, tzinfo=VN).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def filed(store):
    """A report filed by conversation "citizen-3" (contact 0912345678) with an officer's note, and a limiter."""
    run(ActionFileFeedback(store=store), tracker("/affirm", "affirm", slots=FILLED))
    store.set_status("PA-251127-0001", "Đang xử lý", "Đã giao UBND xã Tân Chi kiểm tra hiện trường", "cb.ha")
    clock = Clock()
    return store, AttemptLimiter(store.db, clock=clock), clock


def lookup(store, limiter, text, sender):
    messages, events = run(ActionFeedbackStatus(store=store, limiter=limiter),
                           tracker(text, "check_feedback_status", sender=sender))
    assert events == []
    return messages[0]["text"]


def test_another_conversation_sees_nothing_with_the_code_alone(filed):
    store, limiter, _ = filed
    text = lookup(store, limiter, "tra cứu phản ánh PA-251127-0001", "stranger-1")
    assert text == response_text("utter_feedback_lookup_ask_digits", code="PA-251127-0001")
    assert lookup(store, limiter, "tra cứu phản ánh PA-251127-0999", "stranger-1") == \
        response_text("utter_feedback_lookup_ask_digits", code="PA-251127-0999")  # an unknown code: the same answer


def test_wrong_digits_and_unknown_code_get_the_same_answer(filed):
    store, limiter, _ = filed
    hotline = "18001096"
    wrong = lookup(store, limiter, "tra cứu phản ánh PA-251127-0001, 4 số cuối 1234", "stranger-1")
    assert wrong == response_text("utter_feedback_lookup_no_match", code="PA-251127-0001", hotline=hotline)
    assert "Đang xử lý" not in wrong and "hạ tầng" not in wrong and "Tân Chi" not in wrong
    unknown = lookup(store, limiter, "tra cứu phản ánh PA-251127-0002, 4 số cuối 1234", "stranger-1")
    assert unknown == response_text("utter_feedback_lookup_no_match", code="PA-251127-0002", hotline=hotline)


def test_the_last_four_digits_of_the_contact_show_the_details(filed):
    store, limiter, _ = filed
    text = lookup(store, limiter, "tra cứu phản ánh PA-251127-0001, 4 số cuối sđt là 5678", "new-phone-7")
    assert text.startswith("Phản ánh PA-251127-0001 (chủ đề: hạ tầng)")
    assert "Ghi chú của cán bộ: Đã giao UBND xã Tân Chi kiểm tra hiện trường" in text
    assert "Ghi chú của cán bộ" in lookup(store, limiter, "5678 là số cuối, phản ánh pa 251127 0001", "new-phone-8")


def test_guessing_the_digits_is_limited_like_status_lookups(filed):
    store, limiter, clock = filed
    for guess in ("0000", "1111", "2222", "3333", "4444"):
        lookup(store, limiter, f"tra cứu phản ánh PA-251127-0001 {guess}", "guesser")
    text = lookup(store, limiter, "tra cứu phản ánh PA-251127-0001 5678", "guesser")
    assert text == response_text("utter_feedback_lookup_limited", minutes=15, hotline="18001096")
    # A guesser's failures lock the code for the guesser only (as status lookups): the owner, writing from another
    # conversation with the right digits, still sees the report.
    assert "Ghi chú của cán bộ" in lookup(store, limiter, "tra cứu phản ánh PA-251127-0001 5678", "other")
    clock.now += 15 * 60 + 1
    assert "Ghi chú của cán bộ" in lookup(store, limiter, "tra cứu phản ánh PA-251127-0001 5678", "guesser")
    # The filing conversation is never limited.
    assert "Ghi chú của cán bộ" in lookup(store, limiter, "tra cứu phản ánh PA-251127-0001", "citizen-3")


def test_report_without_a_contact_phone_is_only_confirmed_to_exist(store):
    no_contact = {**FILLED, "feedback_contact": SKIPPED, "feedback_consent": False}
    run(ActionFileFeedback(store=store), tracker("bỏ qua", slots=no_contact))
    limiter = AttemptLimiter(store.db, clock=Clock())
    text = lookup(store, limiter, "tra cứu phản ánh PA-251127-0001 số cuối 5678", "stranger-2")
    assert text == response_text("utter_feedback_lookup_exists_only", code="PA-251127-0001", hotline="18001096")
    assert "Trạng thái" not in text
