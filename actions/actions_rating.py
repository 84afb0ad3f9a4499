"""Satisfaction rating at the end of a conversation: ask once per session, store the 1–5 score, thank.

Thin layer over ``core.rating``: the score is committed by ``RatingStore.record`` before the
citizen is thanked. The console's analytics read the stored ratings.

The NLU's ``goodbye`` and ``rate`` are signals, not the last word (as for the routing actions of
``actions/actions_routing.py``): "xây cảng biển tạm thời" ("tạm" as in "tạm biệt") and "đăng ký đại lý đổi ngoại tệ"
("tệ", a 2/5) are procedure questions. A ``goodbye`` that is not only goodbye words is answered as a procedure question
when the knowledge search answers one with confidence; a ``rate`` that is not only a rating, with no rating asked
just before, is answered as one when the search answers it or the message holds no score at all.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import NamedAction, StoreAction, is_button_payload, latest_intent, latest_text
from actions.actions_routing import AnswersProcedureQuestions
from core.routing import is_goodbye_message, search_answers_procedure
from settings import get_settings

logger = logging.getLogger(__name__)

RATING_SLOT = "satisfaction_rating"


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


def rating_was_asked(tracker: Tracker) -> bool:
    """Whether the bot's last action before the latest message asked for the rating (or stored / re-asked it)."""
    events = list(tracker.events or [])
    for event in reversed(events[:-1] if events and events[-1].get("event") == "user" else events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in (None, "action_listen"):
            return event.get("name") in ("action_ask_rating", "action_store_rating")
    return False


class ActionAskRating(AnswersProcedureQuestions, NamedAction, Action):
    """On goodbye: ask for a 1–5 rating with buttons, once per session; a plain goodbye after that. A procedure
    question the NLU took for a goodbye is answered as one."""

    action_name = "action_ask_rating"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        text = latest_text(tracker)
        intent, _ = latest_intent(tracker)
        if intent == "goodbye" and text and not is_button_payload(text) and not is_goodbye_message(text):
            events = self.answered_as_procedure(dispatcher, tracker, search_answers_procedure)
            if events is not None:
                return events
        if rated_this_session(tracker):
            dispatcher.utter_message(response="utter_goodbye")
            return []
        dispatcher.utter_message(response="utter_rating_ask")
        return []


class ActionStoreRating(AnswersProcedureQuestions, StoreAction, Action):
    """Store the rating the citizen gave (button or typed) and thank them; ask again if it is unclear. A procedure
    question the NLU took for a rating is answered as one."""

    action_name = "action_store_rating"
    default_store = staticmethod(rating_store)

    def __init__(self, store=None, service=None) -> None:
        StoreAction.__init__(self, store)
        self._service = service

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        from core.rating import is_rating_message, parse_rating

        text = latest_text(tracker)
        intent, _ = latest_intent(tracker)
        if (intent == "rate" and text and not is_button_payload(text) and not is_rating_message(text)
                and not rating_was_asked(tracker)):
            scored = parse_rating(text) is not None
            events = self.answered_as_procedure(
                dispatcher, tracker,
                lambda response: search_answers_procedure(response)
                or (not scored and not getattr(response, "no_topic", False)))
            if events is not None:
                return events
        value = next(tracker.get_latest_entity_values("rating"), None)
        rating = parse_rating(value) if value is not None else parse_rating(text)
        if rating is None:
            dispatcher.utter_message(response="utter_rating_unclear")
            return []
        if rated_this_session(tracker):  # one rating per session: a repeated tap or digit is not a new vote
            dispatcher.utter_message(response="utter_rating_already")
            return []
        try:
            self.store.record(tracker.sender_id, tracker.get_latest_input_channel() or "rest", rating)
        except Exception:  # noqa: BLE001 - the citizen is leaving: apologise, never show an error
            logger.exception("Storing a satisfaction rating failed")
            dispatcher.utter_message(response="utter_rating_store_error")
            return []
        if rating >= 3:
            dispatcher.utter_message(response=f"utter_rating_thanks_{rating}")
        else:
            dispatcher.utter_message(response="utter_rating_thanks_low", rating=rating,
                                     hotline=get_settings().support_hotline)
        return [SlotSet(RATING_SLOT, rating)]
