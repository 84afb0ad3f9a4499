"""Dialogue-level actions: session start (what is forgotten between sessions) and the NLU fallback.

The status lookup, feedback and human handoff actions live in ``actions_status.py``, ``actions_feedback.py``
and ``actions_handoff.py``; the helpers here (and ``AskSlotAction``, the forms' questions) are shared by them.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from settings import get_settings

FALLBACK_INTENT = "nlu_fallback"
# Filled at every session start from settings SUPPORT_HOTLINE: responses that Rasa sends on its own (the FAQ
# answers) say {hotline} too.
HOTLINE_SLOT = "hotline"
logger = logging.getLogger(__name__)

# Slots that belong to one conversation only: a verified status lookup, a half-filled form, a pending offer.
# They are not carried over into a new session (the rest, e.g. the procedure being discussed, is).
SESSION_ONLY_SLOTS = frozenset(
    {
        "application_code",
        "status_verification",
        "verified_applications",
        "feedback_topic",
        "feedback_content",
        "feedback_location",
        "feedback_contact",
        "feedback_consent",
        "handoff_offered",
        "handoff_reason",
        "requested_slot",
        "narrowing",
        "narrowing_pending",
        "notification_offer",
        "session_started_metadata",
    }
)


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many user messages in a row, ending with the latest, fell below the NLU threshold."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") == FALLBACK_INTENT:
            count += 1
        else:
            break
    return count


def latest_intent(tracker: Tracker) -> Tuple[Optional[str], float]:
    """Name and confidence of the intent of the latest user message."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def latest_text(tracker: Tracker) -> str:
    """The latest user message, stripped ("" when there is none)."""
    return (tracker.latest_message.get("text") or "").strip()


def is_button_payload(text: str) -> bool:
    """Whether ``text`` is an intent payload such as "/affirm" rather than something the user typed."""
    return text.startswith("/")


class NamedAction:
    """The action's name is the class attribute ``action_name``, and its answer is ``respond``: Rasa's ``run`` is
    written once, here (only the session start reads the domain). A mixin, not an ``Action``: rasa_sdk registers
    every concrete ``Action`` subclass, and this one has no name."""

    action_name = ""

    def name(self) -> Text:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        return self.respond(dispatcher, tracker)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """Send this turn's messages and return its events."""
        raise NotImplementedError


class StoreAction(NamedAction):
    """Shared by the actions that keep what the citizen sends in one store: the store, injectable for tests, else
    the configured one ``default_store()`` (a cached factory). A mixin, not an ``Action`` (see ``NamedAction``)."""

    default_store: Callable[[], Any]

    def __init__(self, store=None) -> None:
        self._store = store

    @property
    def store(self):
        return self._store or self.default_store()


class AskSlotAction(NamedAction, Action):
    """Asks one question of a form: the form runs ``action_ask_<slot>``, which sends the response
    ``utter_ask_<slot>`` of domain.yml. Subclasses set ``slot`` and may add computed buttons or template values."""

    slot = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    def buttons(self, tracker: Tracker) -> Optional[List[Dict[Text, Any]]]:
        """Buttons computed for this question (fixed ones are part of the response)."""
        return None

    def values(self, tracker: Tracker) -> Dict[Text, Any]:
        """Values for the response's ``{placeholders}``."""
        return {}

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        dispatcher.utter_message(response=f"utter_ask_{self.slot}", buttons=self.buttons(tracker),
                                 **self.values(tracker))
        return []


class ActionSessionStart(Action):
    """Start a new session, carrying over slots except the conversation-only ones (verified status, forms), with
    the support hotline of the settings."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        carry_over = (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True)
        if carry_over:
            events += [
                SlotSet(name, value)
                for name, value in (tracker.slots or {}).items()
                if name not in SESSION_ONLY_SLOTS and name != HOTLINE_SLOT and value is not None
            ]
        events.append(SlotSet(HOTLINE_SLOT, get_settings().support_hotline))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionHandleFallback(NamedAction, Action):
    """An unclear message the knowledge search is sure about is answered as a procedure question. Otherwise, first
    unclear message: ask to rephrase; second in a row: offer a human officer."""

    action_name = "action_handle_fallback"

    def __init__(self, service=None) -> None:
        """``service`` is injectable for tests; defaults to the real knowledge service."""
        self._service = service

    def _search(self, text: str):
        """The knowledge search's response, or None for a payload, an empty text or a failing search."""
        if not text or is_button_payload(text):
            return None
        from actions.actions_procedure import knowledge_service

        try:
            return (self._service or knowledge_service()).search(text)
        except Exception:  # noqa: BLE001 - the fallback reply needs no index
            logger.exception("Knowledge search failed in the fallback action")
            return None

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
        from actions.actions_procedure import ActionAnswerProcedure
        from core.narrowing import Question, get_narrowing
        from core.routing import search_answers_procedure

        pending = Question.from_state(tracker.get_slot("narrowing"))
        if pending is not None and get_narrowing().pick(pending, latest_text(tracker)) is not None:
            # An unclear message that answers the pending narrowing question ("ở phường") is that answer.
            return ActionAnswerProcedure(service=self._service).respond(dispatcher, tracker)
        response = self._search(latest_text(tracker))
        if search_answers_procedure(response):
            # The NLU could not place it, but the knowledge search is sure which procedure it asks about.
            events = ActionAnswerProcedure(service=self._service).respond(dispatcher, tracker, response)
            return [*events, SlotSet("handoff_offered", False)]
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(response="utter_fallback_offer_handoff")
            # Only this turn's "có"/"không" answers the offer (rules in data/rules/fallback.yml).
            return [SlotSet("handoff_offered", True), SlotSet("handoff_reason", "fallback")]
        dispatcher.utter_message(response="utter_fallback_rephrase")
        return [SlotSet("handoff_offered", False)]
