"""Satisfaction ratings: parsing what citizens type, the store, and the two actions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_rating import ActionAskRating, ActionStoreRating
from core.db import Database
from core.rating import RatingError, RatingStore, is_rating_message, parse_rating, sender_key
from knowledge.search import Hit, SearchResponse
from tests.fakes.knowledge import answering, searching_service
from tests.fakes.responses import rendered

VN = timezone(timedelta(hours=7))


@pytest.mark.parametrize("text, expected", [
    ("5", 5), ("1", 1), ("4 sao", 4), ("chấm 3 điểm", 3), ("tôi cho 5/5", 5), ("2 diem", 2),
    ("rất hài lòng", 5), ("mình hài lòng", 4), ("bình thường", 3), ("không hài lòng", 2),
    ("rất không hài lòng", 1), ("rat hai long", 5), ("khong hai long lam", 2), ("tệ quá", 2),
    ("năm sao", 5), ("bốn điểm", 4), (4, 4), ("3", 3),
])
def test_parse_rating_reads_what_citizens_type(text, expected):
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["0", "6", "10", "0912", "5678", "4 số cuối là 5678", "", "   ", "1 2",
                                  "cấp lại căn cước", None, True, 4.5, 7])
def test_parse_rating_refuses_what_is_not_a_rating(text):
    assert parse_rating(text) is None


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path):
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=VN))
    return RatingStore(Database(str(tmp_path / "services.db")), clock=clock), clock


def test_store_summarises_per_day_without_sender_ids(store):
    ratings, clock = store
    ratings.record("web-abc", "rest", 5)
    ratings.record("web-def", "zalo", 3)
    clock.now += timedelta(days=1)
    ratings.record("web-abc", "rest", 4)
    days = ["2026-11-19", "2026-11-20", "2026-11-21"]
    summary = ratings.summary(days)
    assert summary["count"] == 3
    assert summary["average"] == 4.0
    assert summary["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert summary["per_day"] == [{"day": "2026-11-19", "count": 0, "average": None},
                                  {"day": "2026-11-20", "count": 2, "average": 4.0},
                                  {"day": "2026-11-21", "count": 1, "average": 4.0}]
    with ratings.db.read() as conn:
        keys = {r["sender_key"] for r in conn.all("SELECT sender_key FROM satisfaction_ratings")}
    assert keys == {sender_key("web-abc"), sender_key("web-def")}
    assert not any("web-" in k for k in keys)


def test_store_ignores_days_outside_the_window(store):
    ratings, clock = store
    ratings.record("a", "rest", 1)
    assert ratings.summary(["2026-11-21"])["count"] == 0
    assert ratings.summary([])["count"] == 0


def test_store_refuses_out_of_range(store):
    ratings, _ = store
    with pytest.raises(RatingError):
        ratings.record("a", "rest", 6)


def run(action, dispatcher, trk, domain):
    return asyncio.run(action.run(dispatcher, trk, domain))


def tracker(events=None, text="", entities=None, intent="rate") -> Tracker:
    return Tracker("web-123", {}, {"text": text, "intent": {"name": intent}, "entities": entities or []},
                   events or [], False, None, None, "action_listen")


def rated_event(value):
    return {"event": "slot", "name": "satisfaction_rating", "value": value}


def test_ask_rating_offers_five_buttons_once_per_session():
    dispatcher = CollectingDispatcher()
    run(ActionAskRating(), dispatcher, tracker([{"event": "session_started"}]), {})
    message = rendered(dispatcher.messages)[0]
    assert message["response"] == "utter_rating_ask"
    assert "từ 1 (rất không hài lòng) đến 5 (rất hài lòng)" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [f'/rate{{"rating":"{s}"}}' for s in (1, 2, 3, 4, 5)]
    # Already rated in this session: a plain goodbye, no second question.
    dispatcher = CollectingDispatcher()
    run(ActionAskRating(), dispatcher, tracker([{"event": "session_started"}, rated_event(5)]), {})
    assert rendered(dispatcher.messages)[0]["response"] == "utter_goodbye"
    assert rendered(dispatcher.messages)[0]["text"].startswith("Tạm biệt bạn!")
    assert "buttons" not in rendered(dispatcher.messages)[0] or not rendered(dispatcher.messages)[0]["buttons"]
    # A rating from an earlier session does not count.
    dispatcher = CollectingDispatcher()
    run(ActionAskRating(), dispatcher, tracker([rated_event(4), {"event": "session_started"}]), {})
    assert rendered(dispatcher.messages)[0]["buttons"]


def test_store_rating_from_button_entity(store):
    ratings, _ = store
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings),
        dispatcher, tracker(text='/rate{"rating":"4"}', entities=[{"entity": "rating", "value": "4"}]), {})
    assert events == [SlotSet("satisfaction_rating", 4)]
    assert rendered(dispatcher.messages)[0]["text"] == "Cảm ơn bạn đã chấm 4/5! Chúc bạn một ngày tốt lành."
    assert ratings.summary(["2026-11-20"])["distribution"]["4"] == 1


def test_one_rating_per_session(store):
    ratings, _ = store
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings), dispatcher,
                 tracker([{"event": "session_started"}, rated_event(5)], text="5 sao"), {})
    assert events == [] and rendered(dispatcher.messages)[0]["text"].startswith("Cảm ơn bạn, tôi đã ghi nhận")
    assert ratings.summary(["2026-11-20"])["count"] == 0


def test_low_rating_offers_a_person(store):
    ratings, _ = store
    dispatcher = CollectingDispatcher()
    run(ActionStoreRating(ratings), dispatcher, tracker(text="không hài lòng", intent="rate"), {})
    assert "chấm 2/5" in rendered(dispatcher.messages)[0]["text"]
    assert "gặp cán bộ" in rendered(dispatcher.messages)[0]["text"]


def test_unclear_rating_asks_again_and_stores_nothing(store):
    ratings, _ = store
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings), dispatcher, tracker(text="4 số cuối là 5678", intent="inform"), {})
    assert events == []
    assert rendered(dispatcher.messages)[0]["text"].startswith("Bạn chọn giúp tôi một số từ 1 đến 5")
    assert len(rendered(dispatcher.messages)[0]["buttons"]) == 5
    assert ratings.summary(["2026-11-20"])["count"] == 0


def test_store_failure_is_not_shown_as_an_error(tmp_path):
    class Broken:
        def record(self, *args):
            raise OSError("database or disk is full")

    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(Broken()), dispatcher, tracker(text="5 sao"), {})
    assert events == []
    assert "chưa lưu được đánh giá" in rendered(dispatcher.messages)[0]["text"]


# ---- a procedure question the NLU took for a rating or a goodbye ------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("5", True), ("tôi chấm 5 sao nhé", True), ("rất hài lòng", True), ("bình thường", True), ("tệ quá", True),
    ("khong hai long lam", True), ("cho 4 điểm thôi", True),
    ("đăng ký đại lý đổi ngoại tệ", False),  # "tệ" is a score word, the rest is a procedure
    ("đăng ký khai sinh cho bé thì bình thường mất mấy ngày", False),
    ("đóng tạm một phần sân bay", False),  # no score at all
])
def test_is_rating_message_wants_nothing_but_a_rating(text, expected):
    assert is_rating_message(text) is expected


def test_a_procedure_question_taken_for_a_rating_is_answered_and_not_stored(store, birth_registration):
    ratings, _ = store
    q = "đăng ký khai sinh cho bé thì bình thường mất mấy ngày"  # "bình thường" reads as a 3/5
    service, searcher = searching_service({q: answering(q, birth_registration)}, [birth_registration])
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings, service), dispatcher, tracker(text=q, intent="rate"), {})
    assert searcher.asked == [q]
    assert rendered(dispatcher.messages)[0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)")
    assert {"event": "slot", "name": "procedure_code", "value": "1.001193", "timestamp": None} in events
    assert ratings.summary(["2026-11-20"])["count"] == 0


def test_a_rating_word_in_an_unsure_search_is_still_a_rating(store, birth_registration):
    ratings, _ = store
    q = "bot trả lời cũng bình thường"  # the fake search abstains: a 3/5 with other words
    service, searcher = searching_service({}, [birth_registration])
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings, service), dispatcher, tracker(text=q, intent="rate"), {})
    assert searcher.asked == [q]
    assert events == [SlotSet("satisfaction_rating", 3)]
    assert ratings.summary(["2026-11-20"])["distribution"]["3"] == 1


def test_a_message_without_a_score_taken_for_a_rating_gets_the_search_not_the_digit_question(store,
                                                                                              birth_registration):
    ratings, _ = store
    q = "con tạm trú ở đây có khai sinh được không"  # no score: the search's suggestions, not "chọn từ 1 đến 5"
    hit = Hit(code="1.001193", name="Đăng ký khai sinh", kind="procedure", url="", score=0.4, probability=0.4)
    unsure = SearchResponse(q, True, decision="abstain", confidence=0.4, results=[hit], suggestions=[hit])
    service, _ = searching_service({q: unsure}, [birth_registration])
    dispatcher = CollectingDispatcher()
    run(ActionStoreRating(ratings, service), dispatcher, tracker(text=q, intent="rate"), {})
    message = rendered(dispatcher.messages)[0]
    assert not message["text"].startswith("Bạn chọn giúp tôi một số từ 1 đến 5")
    assert [b["payload"] for b in message["buttons"]][0].startswith("/choose_procedure")
    assert ratings.summary(["2026-11-20"])["count"] == 0


def test_right_after_the_rating_question_a_rating_is_never_searched(store, birth_registration):
    ratings, _ = store
    service, searcher = searching_service({}, [birth_registration])
    asked = [{"event": "action", "name": "action_ask_rating"}, {"event": "bot", "text": "..."},
             {"event": "action", "name": "action_listen"}, {"event": "user", "text": "dịch vụ ổn áp"}]
    dispatcher = CollectingDispatcher()
    events = run(ActionStoreRating(ratings, service), dispatcher, tracker(asked, text="dịch vụ ổn áp", intent="rate"),
                 {})
    assert searcher.asked == []
    assert events == [SlotSet("satisfaction_rating", 4)]  # "ổn" reads as 4/5


def test_a_procedure_question_taken_for_a_goodbye_is_answered(birth_registration):
    q = "làm khai sinh tạm thời cho con ở đâu"  # "tạm" as in "tạm biệt"
    service, searcher = searching_service({q: answering(q, birth_registration)}, [birth_registration])
    dispatcher = CollectingDispatcher()
    run(ActionAskRating(service), dispatcher, tracker([{"event": "session_started"}], text=q, intent="goodbye"), {})
    assert searcher.asked == [q]
    assert rendered(dispatcher.messages)[0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)")


def test_a_real_goodbye_asks_for_the_rating_without_a_search(birth_registration):
    service, searcher = searching_service({}, [birth_registration])
    dispatcher = CollectingDispatcher()
    run(ActionAskRating(service), dispatcher,
        tracker([{"event": "session_started"}], text="ok cảm ơn bot nhiều nhé, bye", intent="goodbye"), {})
    assert searcher.asked == []
    assert rendered(dispatcher.messages)[0]["response"] == "utter_rating_ask"
