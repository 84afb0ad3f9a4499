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
from core.rating import RatingError, RatingStore, parse_rating, sender_key
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
