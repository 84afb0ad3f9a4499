"""Human handoff: offer an officer, open a ticket with the transcript, pause the bot, deliver staff replies.

Thin layer over ``core.handoff`` (tickets and replies, durable before returning) and
``core.office_hours`` (the expected wait, Vietnam office hours aware). The staff API
(``staff_api/``) runs ``action_deliver_staff_reply`` through Rasa's ``/conversations/{id}/execute``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import NamedAction, StoreAction
from core.db import VN_TZ
from core.privacy import hide_verification_replies
from settings import get_settings

logger = logging.getLogger(__name__)

TRANSCRIPT_MAX_MESSAGES = 60


@lru_cache(maxsize=1)
def handoff_store():
    """The process-wide handoff store (built from the settings on first use)."""
    from core.handoff import handoff_store_from_settings

    return handoff_store_from_settings(get_settings())


def expected_wait(now: datetime) -> str:
    """The office-hours-aware expected wait sentence."""
    from core.office_hours import expected_wait_message

    return expected_wait_message(now)


def offer_wait(now: datetime) -> str:
    """The expected wait told when offering a handoff (before the citizen accepts)."""
    from core.office_hours import offer_wait_message

    return offer_wait_message(now)


def build_transcript(tracker: Tracker, limit: int = TRANSCRIPT_MAX_MESSAGES) -> List[Dict[str, Any]]:
    """The conversation's user and bot messages (latest ``limit``), oldest first, for the officer."""
    messages: List[Dict[str, Any]] = []
    buttons: Dict[str, str] = {}  # payload -> title of the buttons the bot showed last
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            messages = []
        elif kind in ("user", "bot") and (event.get("text") or "").strip():
            stamp = event.get("timestamp")
            at = datetime.fromtimestamp(stamp, VN_TZ).isoformat() if isinstance(stamp, (int, float)) else None
            text = event["text"]
            if kind == "bot":
                shown = (event.get("data") or {}).get("buttons") or []
                buttons = {b.get("payload"): b.get("title") for b in shown if isinstance(b, dict)}
            elif text.startswith("/"):
                # A tapped button: the officer reads what the citizen saw ("Có, gặp cán bộ"), not "/affirm".
                title = buttons.get(text)
                text = f"[Bấm nút] {title}" if title else "[Bấm nút]"
            item: Dict[str, Any] = {"role": kind, "text": text, "at": at}
            if kind == "user":
                item["intent"] = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            messages.append(item)
    # The verification digits the citizen typed for a status lookup are a secret the officer does not need.
    return hide_verification_replies(messages)[-limit:]


def _vn_now() -> datetime:
    return datetime.now(VN_TZ)


def is_clear_answer(text: str) -> bool:
    """Whether a "yes" to the handoff offer was a button or mostly letters, not symbols/emoji the NLU guessed at.

    >>> is_clear_answer("/affirm"), is_clear_answer("có ạ"), is_clear_answer(",,"), is_clear_answer("🔬̥")
    (True, True, False, False)
    """
    text = (text or "").strip()
    if text.startswith("/"):
        return True
    from knowledge.text import fold

    folded = [ch for ch in fold(text) if not ch.isspace()]
    letters = sum(1 for ch in folded if ch.isascii() and ch.isalpha())
    return bool(folded) and letters * 2 >= len(folded)


class ActionOfferHandoff(NamedAction, Action):
    """Ask whether the citizen wants an officer, telling them the expected wait first."""

    action_name = "action_offer_handoff"

    def __init__(self, clock: Optional[Callable[[], datetime]] = None) -> None:
        """``clock`` is injectable for tests (aware datetime)."""
        self._clock = clock or _vn_now

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        reason = "user_request"
        # The knowledge answer's "Gặp cán bộ hỗ trợ" button after an abstention sends "/request_human".
        if (tracker.latest_message.get("text") or "").startswith("/request_human"):
            reason = "knowledge_abstained"
        dispatcher.utter_message(response="utter_offer_handoff", wait=offer_wait(self._clock()))
        return [SlotSet("handoff_offered", True), SlotSet("handoff_reason", reason)]


class ActionHandoff(StoreAction, Action):
    """Open a ticket with the transcript (stored before anything is said), then pause the bot."""

    action_name = "action_handoff"
    default_store = staticmethod(handoff_store)

    def __init__(self, store=None, clock: Optional[Callable[[], datetime]] = None) -> None:
        """``store`` and ``clock`` are injectable for tests."""
        super().__init__(store)
        self._clock = clock or _vn_now

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        hotline = get_settings().support_hotline
        if not is_clear_answer(tracker.latest_message.get("text") or ""):
            # Pausing the bot on noise would leave the citizen waiting for an officer they never asked for.
            dispatcher.utter_message(response="utter_handoff_unclear")
            return [SlotSet("handoff_offered", False)]
        reason = tracker.get_slot("handoff_reason") or "user_request"
        try:
            ticket = self.store.open_ticket(
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "rest",
                transcript=build_transcript(tracker),
                reason=reason,
            )
        except Exception:
            logger.exception("Opening a handoff ticket failed")
            dispatcher.utter_message(response="utter_handoff_error", hotline=hotline)
            return [SlotSet("handoff_offered", False)]
        logger.info("Handoff ticket %s opened (%s)", ticket.id, reason)
        dispatcher.utter_message(response="utter_handoff_opened", ticket=ticket.id, wait=expected_wait(self._clock()),
                                 hotline=hotline)
        return [SlotSet("handoff_offered", False), SlotSet("handoff_reason", None), ConversationPaused()]


class ActionDeliverStaffReply(StoreAction, Action):
    """Send the officer's pending replies to the citizen and mark them delivered (run by the staff API)."""

    action_name = "action_deliver_staff_reply"
    default_store = staticmethod(handoff_store)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        try:
            replies = list(self.store.pending_replies(tracker.sender_id))
        except Exception:
            logger.exception("Reading pending staff replies failed")
            return []
        for reply in replies:
            dispatcher.utter_message(response="utter_staff_reply", reply=reply.text)
        if replies:
            self.store.mark_delivered([reply.id for reply in replies])
            logger.info("Delivered %d staff replies", len(replies))
        return []
