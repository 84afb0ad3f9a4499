"""Satisfaction rating at the end of a conversation: ask once per session, store the 1–5 score, thank.

Thin layer over ``core.rating``: the score is committed by ``RatingStore.record`` before the
citizen is thanked. The console's analytics read the stored ratings.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import latest_text
from settings import get_settings

logger = logging.getLogger(__name__)

RATING_SLOT = "satisfaction_rating"

MESSAGES = {
    "ask": (
        "Cảm ơn bạn đã trò chuyện với trợ lý. Trước khi kết thúc, bạn chấm giúp mức hài lòng với câu trả lời "
        "hôm nay từ 1 (rất không hài lòng) đến 5 (rất hài lòng) nhé."
    ),
    "goodbye": "Tạm biệt bạn! Khi cần tra cứu thủ tục, bạn cứ nhắn cho tôi nhé.",
    "thanks": {
        5: "Cảm ơn bạn đã chấm 5/5! Rất vui vì đã giúp được bạn. Chúc bạn một ngày tốt lành.",
        4: "Cảm ơn bạn đã chấm 4/5! Chúc bạn một ngày tốt lành.",
        3: ("Cảm ơn bạn đã chấm 3/5. Góp ý của bạn giúp chúng tôi cải thiện trợ lý. "
            "Chúc bạn một ngày tốt lành."),
    },
    "thanks_low": (
        "Cảm ơn bạn đã chấm {rating}/5 và xin lỗi vì trợ lý chưa giúp được bạn như mong muốn. Nếu cần, bạn nhắn "
        "“gặp cán bộ” hoặc gọi tổng đài {hotline} để được hỗ trợ trực tiếp."
    ),
    "already": "Cảm ơn bạn, tôi đã ghi nhận đánh giá của bạn cho cuộc trò chuyện này rồi.",
    "unclear": "Bạn chọn giúp tôi một số từ 1 đến 5 nhé (1 = rất không hài lòng, 5 = rất hài lòng).",
    "store_error": (
        "Cảm ơn bạn! Hệ thống chưa lưu được đánh giá lúc này, nhưng bạn không cần làm gì thêm. Tạm biệt bạn!"
    ),
}
# Ascending, so that on Zalo (buttons become a numbered list answered with its number) "1" means score 1.
BUTTON_TITLES = {1: "1 – Rất không hài lòng", 2: "2 – Không hài lòng", 3: "3 – Bình thường", 4: "4 – Hài lòng",
                 5: "5 – Rất hài lòng"}


def rating_buttons() -> List[Dict[Text, str]]:
    """Buttons 1–5; each sends ``/rate{"rating":"N"}`` (the rating entity, no NLU needed)."""
    return [{"title": BUTTON_TITLES[score], "payload": f'/rate{{"rating":"{score}"}}'}
            for score in sorted(BUTTON_TITLES)]


@lru_cache(maxsize=1)
def rating_store():
    """The process-wide rating store (built from the settings on first use)."""
    from core.rating import rating_store_from_settings

    return rating_store_from_settings(get_settings())


def _events_this_session(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The tracker's events since the last session start."""
    events = list(tracker.events or [])
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "session_started":
            return events[i + 1:]
    return events


def rated_this_session(tracker: Tracker) -> bool:
    """Whether the citizen already gave a rating in the current session."""
    return any(e.get("event") == "slot" and e.get("name") == RATING_SLOT and e.get("value") is not None
               for e in _events_this_session(tracker))


class ActionAskRating(Action):
    """On goodbye: ask for a 1–5 rating with buttons, once per session; a plain goodbye after that."""

    def name(self) -> Text:
        return "action_ask_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if rated_this_session(tracker):
            dispatcher.utter_message(text=MESSAGES["goodbye"])
            return []
        dispatcher.utter_message(text=MESSAGES["ask"], buttons=rating_buttons())
        return []


class ActionStoreRating(Action):
    """Store the rating the citizen gave (button or typed) and thank them; ask again if it is unclear."""

    def __init__(self, store=None) -> None:
        """``store`` is injectable for tests; defaults to the configured RatingStore."""
        self._store = store

    def name(self) -> Text:
        return "action_store_rating"

    @property
    def store(self):
        return self._store or rating_store()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        from core.rating import parse_rating

        value = next(tracker.get_latest_entity_values("rating"), None)
        rating = parse_rating(value) if value is not None else parse_rating(latest_text(tracker))
        if rating is None:
            dispatcher.utter_message(text=MESSAGES["unclear"], buttons=rating_buttons())
            return []
        if rated_this_session(tracker):  # one rating per session: a repeated tap or digit is not a new vote
            dispatcher.utter_message(text=MESSAGES["already"])
            return []
        try:
            self.store.record(tracker.sender_id, tracker.get_latest_input_channel() or "rest", rating)
        except Exception:  # noqa: BLE001 - the citizen is leaving: apologise, never show an error
            logger.exception("Storing a satisfaction rating failed")
            dispatcher.utter_message(text=MESSAGES["store_error"])
            return []
        settings = get_settings()
        text = MESSAGES["thanks"].get(rating) or MESSAGES["thanks_low"].format(rating=rating,
                                                                               hotline=settings.support_hotline)
        dispatcher.utter_message(text=text)
        return [SlotSet(RATING_SLOT, rating)]
