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

from actions.actions_dialogue import NamedAction, StoreAction, latest_text
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


class ActionAskRating(NamedAction, Action):
    """On goodbye: ask for a 1–5 rating with buttons, once per session; a plain goodbye after that."""

    action_name = "action_ask_rating"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        if rated_this_session(tracker):
            dispatcher.utter_message(response="utter_goodbye")
            return []
        dispatcher.utter_message(response="utter_rating_ask")
        return []


class ActionStoreRating(StoreAction, Action):
    """Store the rating the citizen gave (button or typed) and thank them; ask again if it is unclear."""

    action_name = "action_store_rating"
    default_store = staticmethod(rating_store)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        from core.rating import parse_rating

        value = next(tracker.get_latest_entity_values("rating"), None)
        rating = parse_rating(value) if value is not None else parse_rating(latest_text(tracker))
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
