"""Feedback and complaints (phản ánh, kiến nghị): the form, filing the report, and looking a report up.

Thin layer over ``core.feedback``: the report is committed by ``FeedbackStore.create`` before
the citizen sees the acknowledgement with its PA- tracking code. Content is stored verbatim.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import AskSlotAction, StoreAction, is_button_payload, latest_intent, latest_text
from core.appcode import APPLICATION_CODE_PATTERN, FEEDBACK_CODE_PATTERN, extract_feedback_code
from knowledge.text import fold
from settings import get_settings

logger = logging.getLogger(__name__)

# The answer that leaves no contact (also the payload of the skip button of utter_ask_feedback_contact).
SKIPPED = "bỏ qua"
FORM_SLOTS = ("feedback_topic", "feedback_content", "feedback_location", "feedback_contact", "feedback_consent")

# At the topic, contact and consent questions, an answer that is not one of the expected ones and looks like
# another request (a procedure question, "gặp cán bộ", ...) lets the rules handle it (data/rules/forms.yml).
SWITCHING_INTENTS = frozenset({"request_human", "check_application_status", "check_feedback_status", "faq",
                               "bot_challenge", "goodbye", "ask_procedure", "choose_procedure", "out_of_scope"})
# Content and location are free text: whatever the NLU thinks an address is ("faq", "ask_procedure"...), it is
# the answer. Only a short stop/greeting/thanks/"gặp cán bộ" ("không", "thôi", "cảm ơn") is not.
SHORT_LEAVING_INTENTS = frozenset({"deny", "greet", "thank", "goodbye", "request_human"})
SHORT_WORDS = 4

SKIP_PHRASES = frozenset(
    {"bo qua", "khong", "khong co", "khong can", "khong de lai", "thoi", "skip", "ko", "k", "khong a", "bo qua a",
     "khong muon", "khong cung cap", "bo"}
)
YES_PHRASES = frozenset({"co", "dong y", "co a", "dong y a", "ok", "vang", "u", "duoc", "yes"})
NO_PHRASES = frozenset({"khong", "khong dong y", "ko", "k", "khong a", "thoi", "no"})

# Words of a bare request to file feedback ("tôi muốn gửi phản ánh kiến nghị"), diacritics folded. When the
# triggering message has at least CONTENT_MIN_WORDS other words, it already is the content.
REQUEST_WORDS = frozenset(
    "toi minh em anh chi chau con muon can gui phan anh kien nghi gop y khieu nai to cao bao cao y kien "
    "pa kn cho voi a nhe di de lam sao the nao o dau den ve la mot xin duoc ve viec".split()
)
CONTENT_MIN_WORDS = 4

@lru_cache(maxsize=1)
def lookup_limiter():
    """The status lookups' attempt limiter (same table, same limits), built on first use."""
    from core.status.factory import attempt_limiter_from_settings

    return attempt_limiter_from_settings(get_settings())


def feedback_lookup_digits(text: str | None) -> Optional[str]:
    """The last four digits typed with a feedback code ("PA-251127-0042, 4 số cuối 5678" → "5678"), or None.

    The code itself (and any application code) is not read as digits; of the digit runs left, the last one of at
    least four digits counts (a whole phone number gives its last four).
    """
    rest = FEEDBACK_CODE_PATTERN.sub(" ", text or "")
    rest = APPLICATION_CODE_PATTERN.sub(" ", rest)
    runs = [run for run in re.findall(r"\d+", rest) if len(run) >= 4]
    return runs[-1][-4:] if runs else None


@lru_cache(maxsize=1)
def feedback_store():
    """The process-wide feedback store (built from the settings on first use)."""
    from core.feedback import feedback_store_from_settings

    return feedback_store_from_settings(get_settings())


def _topics() -> List[str]:
    from core.feedback import TOPICS

    return list(TOPICS)


def match_topic(text: str) -> Optional[str]:
    """The taxonomy topic the citizen typed or clicked ("moi truong", "Môi trường" → "môi trường")."""
    folded = fold(text or "").strip(" .!?")
    if not folded:
        return None
    for topic in _topics():
        if folded == fold(topic) or fold(topic) in folded:
            return topic
    return None


def _short_leaving(tracker: Tracker) -> bool:
    """A short stop/greeting/thanks/officer request instead of a free-text answer."""
    intent, _ = latest_intent(tracker)
    return intent in SHORT_LEAVING_INTENTS and len(latest_text(tracker).split()) <= SHORT_WORDS


def _leaving(tracker: Tracker) -> bool:
    """Another request instead of an answer to a topic/contact/consent question."""
    intent, _ = latest_intent(tracker)
    return intent in SWITCHING_INTENTS or _short_leaving(tracker)


def form_answer(tracker: Tracker, slot: str, recognised: Callable[[str, Optional[str]], Any]) -> Dict[Text, Any]:
    """The answer to the form's question for ``slot``: what ``recognised(text, intent)`` makes of the latest message
    (``None``: nothing recognised), else the text as typed, unless the citizen asked for something else instead."""
    if tracker.get_slot("requested_slot") != slot:
        return {}
    text = latest_text(tracker)
    intent, _ = latest_intent(tracker)
    value = recognised(text, intent)
    if value is not None:
        return {slot: value}
    if not text or _leaving(tracker):
        return {}
    return {slot: text}


def content_of_request(text: str) -> Optional[str]:
    """The triggering message itself when it already describes the problem, else None."""
    if not text or is_button_payload(text):
        return None
    words = [w for w in fold(text).replace(",", " ").replace(".", " ").split() if w not in REQUEST_WORDS]
    return text.strip() if len(words) >= CONTENT_MIN_WORDS else None


class ValidateFeedbackForm(FormValidationAction):
    """Reads the form's answers from free text: topic, verbatim content, location, contact, consent."""

    def name(self) -> Text:
        return "validate_feedback_form"

    async def extract_feedback_topic(self, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """The answer to the topic question (validated against the taxonomy)."""
        return form_answer(tracker, "feedback_topic", lambda text, intent: text if match_topic(text) else None)

    def validate_feedback_topic(self, value: Any, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """One of the taxonomy topics, or the list of topics again."""
        topic = match_topic(str(value or ""))
        if topic is None:
            dispatcher.utter_message(response="utter_feedback_bad_topic", topics=", ".join(_topics()))
        return {"feedback_topic": topic}

    async def extract_feedback_content(self, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """The content, verbatim; taken from the triggering message when that already describes the problem."""
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if requested is None and tracker.get_slot("feedback_content") is None:
            intent, _ = latest_intent(tracker)
            content = content_of_request(text) if intent == "file_feedback" else None
            return {"feedback_content": content} if content else {}
        if requested != "feedback_content" or not text or is_button_payload(text) or _short_leaving(tracker):
            return {}
        return {"feedback_content": text}

    async def extract_feedback_location(self, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """The location as typed."""
        text = latest_text(tracker)
        if tracker.get_slot("requested_slot") != "feedback_location" or not text or is_button_payload(text):
            return {}
        if _short_leaving(tracker):
            return {}
        return {"feedback_location": text}

    async def extract_feedback_contact(self, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """A phone number or e-mail, or "bỏ qua"."""
        from core.feedback import validate_contact

        def recognised(text: str, intent: Optional[str]) -> Optional[str]:
            if fold(text).strip(" .!") in SKIP_PHRASES or intent == "deny":
                return SKIPPED
            # A valid phone/e-mail is the answer whatever the NLU thought ("0987.654.321" looks like a code).
            return text if validate_contact(text) is not None else None

        return form_answer(tracker, "feedback_contact", recognised)

    def validate_feedback_contact(self, value: Any, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """A validated phone/e-mail; skipping the contact also means no consent to be contacted."""
        from core.feedback import validate_contact

        if value == SKIPPED:
            return {"feedback_contact": SKIPPED, "feedback_consent": False}
        contact = validate_contact(str(value or ""))
        if contact is None:
            dispatcher.utter_message(response="utter_feedback_bad_contact")
        return {"feedback_contact": contact}

    async def extract_feedback_consent(self, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """Yes/no to being contacted."""

        def recognised(text: str, intent: Optional[str]) -> Optional[bool]:
            folded = fold(text).strip(" .!")
            if intent == "affirm" or folded in YES_PHRASES:
                return True
            if intent == "deny" or folded in NO_PHRASES:
                return False
            return None

        return form_answer(tracker, "feedback_consent", recognised)

    def validate_feedback_consent(self, value: Any, dispatcher, tracker: Tracker, domain: Dict) -> Dict[Text, Any]:
        """Only a real yes/no counts."""
        if isinstance(value, bool):
            return {"feedback_consent": value}
        dispatcher.utter_message(response="utter_feedback_bad_consent")
        return {"feedback_consent": None}


class ActionFileFeedback(StoreAction, Action):
    """Store the report (durably) and only then acknowledge it with its tracking code."""

    action_name = "action_file_feedback"
    default_store = staticmethod(feedback_store)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        from core.feedback import contact_last4

        settings = get_settings()
        values = {name: tracker.get_slot(name) for name in FORM_SLOTS}
        reset: List[EventType] = [SlotSet(name, None) for name in FORM_SLOTS]
        if not values["feedback_topic"] or not values["feedback_content"] or not values["feedback_location"]:
            dispatcher.utter_message(response="utter_feedback_missing")
            return reset
        contact = values["feedback_contact"]
        contact = None if contact in (None, SKIPPED) else contact
        consent = bool(values["feedback_consent"]) and contact is not None
        try:
            report = self.store.create(
                topic=values["feedback_topic"],
                content=values["feedback_content"],
                location=values["feedback_location"],
                contact=contact,
                consent=consent,
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "rest",
            )
        except Exception as exc:
            from core.feedback import FeedbackError

            if isinstance(exc, FeedbackError):  # invalid input: its message is written for the citizen
                dispatcher.utter_message(text=exc.message)
                return reset
            logger.exception("Filing a feedback report failed")
            dispatcher.utter_message(response="utter_feedback_store_error", url=settings.feedback_url,
                                     hotline=settings.support_hotline)
            return reset
        logger.info("Feedback report %s filed (topic %s)", report.code, values["feedback_topic"])
        # Whether the citizen may be contacted, and whether the last digits of a phone let them look it up elsewhere.
        name = "utter_feedback_filed_" + ("contact" if consent else "no_contact")
        name += "_phone" if contact_last4(report) is not None else ""
        dispatcher.utter_message(response=name, code=report.code, topic=values["feedback_topic"],
                                 location=values["feedback_location"], contact=contact)
        return reset


class ActionFeedbackStatus(StoreAction, Action):
    """"Tra cứu phản ánh PA-…[, 4 số cuối 5678]": the report's status and the staff's notes.

    Codes are sequential, so a code alone shows nothing: details go to the conversation that filed the report, or
    with the last four digits of the contact phone left when filing. Any other lookup goes through the status
    lookups' attempt limiter (same limits per sender and per code); a wrong code and wrong digits get the same
    answer, and a report without a contact phone is only confirmed to exist.
    """

    action_name = "action_feedback_status"
    default_store = staticmethod(feedback_store)

    def __init__(self, store=None, limiter=None) -> None:
        """``store``/``limiter`` are injectable for tests; default to the configured services."""
        super().__init__(store)
        self._limiter = limiter

    @property
    def limiter(self):
        return self._limiter or lookup_limiter()

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        from core.feedback import contact_last4, format_feedback, may_see_report

        text = latest_text(tracker)
        code = extract_feedback_code(text)
        if code is None:
            dispatcher.utter_message(response="utter_feedback_lookup_ask_code")
            return []
        hotline = get_settings().support_hotline
        sender = tracker.sender_id
        last4 = feedback_lookup_digits(text)
        try:
            report = self.store.get(code)
            if not may_see_report(report, sender, None):  # not the conversation that filed it
                if last4 is None:  # nothing looked up, nothing counted: the same answer for any code
                    dispatcher.utter_message(response="utter_feedback_lookup_ask_digits", code=code)
                    return []
                from actions.actions_status import client_of, conversation_key

                who, client = conversation_key(tracker), client_of(tracker)
                decision = self.limiter.check(who, code, client=client)
                if not decision.allowed:
                    logger.info("Feedback lookup refused by the rate limit")
                    minutes = max(1, -(-decision.retry_after_s // 60))
                    dispatcher.utter_message(response="utter_feedback_lookup_limited", minutes=minutes,
                                             hotline=hotline)
                    return []
                verified = may_see_report(report, None, last4)
                self.limiter.record(who, code, verified, client=client)
                if not verified:
                    exists_only = report is not None and contact_last4(report) is None
                    name = "utter_feedback_lookup_exists_only" if exists_only else "utter_feedback_lookup_no_match"
                    dispatcher.utter_message(response=name, code=code, hotline=hotline)
                    return []
        except Exception:
            logger.exception("Feedback lookup failed")
            dispatcher.utter_message(response="utter_feedback_lookup_error")
            return []
        dispatcher.utter_message(text=format_feedback(report))
        return []


class ActionAskFeedbackTopic(AskSlotAction):
    """Asks for the topic, one button per taxonomy entry."""

    slot = "feedback_topic"

    def buttons(self, tracker: Tracker) -> List[Dict[Text, Any]]:
        return [{"title": topic[:1].upper() + topic[1:], "payload": topic} for topic in _topics()]


class ActionAskFeedbackContent(AskSlotAction):
    """Asks for the content."""

    slot = "feedback_content"


class ActionAskFeedbackLocation(AskSlotAction):
    """Asks where it happens."""

    slot = "feedback_location"


class ActionAskFeedbackContact(AskSlotAction):
    """Asks for an optional phone number or e-mail (or "bỏ qua", a button of the response)."""

    slot = "feedback_contact"


class ActionAskFeedbackConsent(AskSlotAction):
    """Asks for consent to be contacted through the contact given (the question names it)."""

    slot = "feedback_consent"

    def values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {"contact": tracker.get_slot("feedback_contact")}
