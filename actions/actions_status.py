"""Application status lookup: the form's slot extraction/validation and the lookup itself.

Thin layer over ``core.status``: the backend answers only when the code and the verification
factor (last 4 digits of the applicant's phone or ID number) both match, and the citizen gets the same
neutral message otherwise. Attempts are rate-limited per conversation, per client (the address the channel saw,
in the message metadata), per client and code, per code and globally (``status.ratelimit``). A verified code is
remembered in ``verified_applications`` for the rest of the conversation (see ``ActionSessionStart``), but the
slot is only trusted when the limiter's own records show that this conversation proved both factors for the code
(``AttemptLimiter.verified``): a forged tracker with a pre-filled slot reveals nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import AskSlotAction, NamedAction, latest_intent, latest_text
from core.appcode import APPLICATION_CODE_PATTERN, extract_application_code, mask_code
from core.db import VN_TZ
from settings import get_settings

logger = logging.getLogger(__name__)


# Intents that, while the form waits for a code or digits, mean the citizen changed the subject: the form
# lets rules answer them (data/rules/forms.yml) and then asks again.
INTERRUPTING_INTENTS = frozenset(
    {
        "ask_procedure",
        "choose_procedure",
        "faq",
        "file_feedback",
        "check_feedback_status",
        "request_human",
        "bot_challenge",
        "greet",
        "goodbye",
        "thank",
        "out_of_scope",
        "deny",
    }
)

@lru_cache(maxsize=1)
def status_services():
    """(backend, limiter) built from the settings on first use — nothing is opened at import."""
    from core.status.factory import attempt_limiter_from_settings, status_backend_from_settings

    settings = get_settings()
    return status_backend_from_settings(settings), attempt_limiter_from_settings(settings)


def _requested_slot(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("requested_slot")


def _changes_subject(tracker: Tracker) -> bool:
    intent, _ = latest_intent(tracker)
    return intent in INTERRUPTING_INTENTS


def verification_digits(text: str) -> str:
    """The digits of a verification answer, ignoring any application code typed in the same message."""
    without_code = APPLICATION_CODE_PATTERN.sub(" ", text or "")
    return "".join(ch for ch in without_code if ch.isdigit())


def input_channel(tracker: Tracker) -> str:
    """The channel the latest message came in on, as the Rasa server recorded it (decided by the channel adapter,
    never by the client; "rest" when the server recorded none)."""
    return tracker.get_latest_input_channel() or "rest"


def conversation_key(tracker: Tracker) -> str:
    """The conversation the limiter counts and remembers by: the channel the message came in on and the sender id.
    A REST caller who reuses a Zalo user's sender id shares nothing with that user's Zalo conversation."""
    return f"{input_channel(tracker)}:{tracker.sender_id}"


def client_of(tracker: Tracker) -> Optional[str]:
    """The client pseudonym the channel put into the latest user message's metadata (server-side, overwriting
    anything the client sent; core/client_address.py), or None (e.g. Zalo, which authenticates its
    users itself)."""
    from core.client_address import METADATA_KEY

    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            client = (event.get("metadata") or {}).get(METADATA_KEY)
            return client if isinstance(client, str) and client else None
    return None


def server_verified(limiter, tracker: Tracker, code: Optional[str]) -> bool:
    """The slot says ``code`` was verified here, and the server's records confirm it for this conversation."""
    if not code or code not in (tracker.get_slot("verified_applications") or {}):
        return False
    try:
        return bool(limiter.verified(conversation_key(tracker), code))
    except Exception:  # noqa: BLE001 - store down: ask for the digits again rather than trust the slot
        logger.exception("Could not confirm a verified lookup for %s", mask_code(code))
        return False


class ValidateApplicationStatusForm(FormValidationAction):
    """Finds the application code (any format) and the verification digits in what the citizen types."""

    def __init__(self, limiter=None) -> None:
        """``limiter`` is injectable for tests; defaults to the configured attempt limiter."""
        super().__init__()
        self._limiter = limiter

    def name(self) -> Text:
        return "validate_application_status_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[Text]:
        """No verification is asked again for a code already verified in this conversation."""
        code = tracker.get_slot("application_code")
        if code and code in (tracker.get_slot("verified_applications") or {}):
            limiter = self._limiter or status_services()[1]
            if server_verified(limiter, tracker, code):
                return ["application_code"]
        return domain_slots

    async def extract_application_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        """A code anywhere in the message; any other answer to the code question goes to validation."""
        text = latest_text(tracker)
        code = extract_application_code(text)
        if code:
            return {"application_code": code}
        if _requested_slot(tracker) == "application_code" and text and not _changes_subject(tracker):
            return {"application_code": text}
        return {}

    def validate_application_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        """Keep only a well-formed code (canonical form); explain the format otherwise."""
        code = extract_application_code(str(value or ""))
        if code is None:
            dispatcher.utter_message(response="utter_status_bad_code")
            return {"application_code": None}
        return {"application_code": code}

    async def extract_status_verification(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        """Digits typed when the form asked for them (never digits of the code itself)."""
        if _requested_slot(tracker) != "status_verification":
            return {}
        text = latest_text(tracker)
        digits = verification_digits(text)
        if digits:
            return {"status_verification": digits}
        if extract_application_code(text):
            return {}  # a corrected code only: keep asking for the digits
        if text and not _changes_subject(tracker):
            return {"status_verification": text}
        return {}

    def validate_status_verification(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        """Four digits, or the last four of a longer number (a whole phone or ID number typed)."""
        digits = "".join(ch for ch in str(value or "") if ch.isdigit())
        if len(digits) < 4:
            dispatcher.utter_message(response="utter_status_bad_digits")
            return {"status_verification": None}
        return {"status_verification": digits[-4:]}


class ActionCheckStatus(NamedAction, Action):
    """Look the application up once the form has both factors, and answer with its status."""

    action_name = "action_check_status"

    def __init__(self, backend=None, limiter=None, clock: Optional[Callable[[], datetime]] = None,
                 subscriptions=None) -> None:
        """``backend``/``limiter``/``subscriptions`` are injectable for tests; default to the configured services."""
        self._backend = backend
        self._limiter = limiter
        self._clock = clock or (lambda: datetime.now(VN_TZ))
        self._subscriptions = subscriptions

    def _services(self):
        if self._backend is None or self._limiter is None:
            backend, limiter = status_services()
            self._backend = self._backend or backend
            self._limiter = self._limiter or limiter
        return self._backend, self._limiter

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        # actions_notifications builds on this module (verification helpers): imported here, not at the top.
        from actions.actions_notifications import OFFER_SLOT, offer_notifications
        from core.status.answer import format_status

        settings = get_settings()
        hotline = settings.support_hotline
        code = tracker.get_slot("application_code")
        digits = tracker.get_slot("status_verification")
        verified = dict(tracker.get_slot("verified_applications") or {})
        # An earlier offer is closed by any new lookup: "có" then answers only an offer made after this one.
        events: List[EventType] = [SlotSet("application_code", None), SlotSet("status_verification", None),
                                   SlotSet(OFFER_SLOT, None)]
        sender = conversation_key(tracker)
        client = client_of(tracker)
        remembered = False
        if digits is None and code in verified:
            try:
                remembered = server_verified(self._services()[1], tracker, code)
            except Exception:  # noqa: BLE001 - services not configured: the lookup below apologises
                remembered = False
            if remembered:
                digits = verified[code]
        if not code or not digits:
            dispatcher.utter_message(response="utter_status_missing")
            return events
        try:
            backend, limiter = self._services()
            if not remembered:
                decision = limiter.check(sender, code, client=client)
                if not decision.allowed:
                    logger.info("Status lookup refused by the %s rate limit for %s", decision.rule or "",
                                mask_code(code))
                    minutes = max(1, -(-decision.retry_after_s // 60))
                    dispatcher.utter_message(response="utter_status_limited", minutes=minutes, hotline=hotline)
                    return events
            app = backend.lookup(code, digits)
            if not remembered:
                limiter.record(sender, code, app is not None, client=client)
        except Exception:  # the citizen gets an apology, the log gets the trace (codes masked by the log filter)
            logger.exception("Status lookup failed for %s", mask_code(code))
            dispatcher.utter_message(response="utter_status_error", url=settings.status_lookup_url, hotline=hotline)
            return events
        if app is None:
            logger.info("Status lookup without a match for %s", mask_code(code))
            verified.pop(code, None)
            dispatcher.utter_message(response="utter_status_no_match", hotline=hotline)
            return events + [SlotSet("verified_applications", verified or None)]
        logger.info("Status lookup answered for %s", mask_code(code))
        dispatcher.utter_message(text=format_status(app, self._clock().date()))
        verified[code] = digits
        events.append(SlotSet("verified_applications", verified))
        return events + offer_notifications(dispatcher, tracker, code, self._subscriptions)


class ActionAskApplicationCode(AskSlotAction):
    """Asks for the application code."""

    slot = "application_code"


class ActionAskStatusVerification(AskSlotAction):
    """Asks for the verification factor."""

    slot = "status_verification"
