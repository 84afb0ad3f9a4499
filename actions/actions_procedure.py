"""The action that answers questions about administrative procedures from the knowledge base."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from actions.actions_dialogue import NamedAction
from core.answers import ASPECTS, english_name, format_answer, shorten
from core.language import detect_language, question_aspects
from core.narrowing import Question, get_narrowing
from core.routing import asks_status_outright, is_feedback_request
from knowledge.bank import are_siblings
from knowledge.store import is_procedure_code
from settings import get_settings

# The phrases are domain.yml responses (utter_procedure_*; English twins end in _en). Two labels of computed
# messages stay here: the title of the button that closes the computed list of suggested procedures (Rasa puts a
# response's own buttons first), and the source line of a question-and-answer entry of the knowledge base (sent as
# text: scripts/eval_routing.py recognises those answers by their text).
HUMAN_BUTTON_TITLE = {"vi": "Gặp cán bộ hỗ trợ", "en": "Talk to an officer"}
# Offered beside the suggestions when a message the search cannot place has clear feedback words (the NLU read a
# complaint as a procedure question): one tap starts the feedback form (``/file_feedback``, an explicit choice).
FEEDBACK_BUTTON_TITLE = {"vi": "Gửi phản ánh, kiến nghị", "en": "Send feedback"}
SOURCE_LABEL = {"vi": "Nguồn", "en": "Source"}
# The status lookup form (domain.yml), started directly when a "procedure question" holds clear status words.
STATUS_FORM = "application_status_form"


def human_button(lang: str) -> Dict[Text, Any]:
    """The button that asks for an officer (handoff), offered wherever the bot is not sure."""
    return {"title": HUMAN_BUTTON_TITLE[lang], "payload": "/request_human"}


def in_language(response: str, lang: str) -> str:
    """The name of ``response`` in language ``lang`` ("vi" is the response itself, others end in ``_<lang>``)."""
    return response if lang == "vi" else f"{response}_{lang}"


logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def knowledge_service():
    """The process-wide knowledge service (built on first use, not at import)."""
    from core.knowledge_service import KnowledgeService

    return KnowledgeService()


def latest_aspects(tracker: Tracker, text: str, lang: str) -> List[str]:
    """The aspects the latest message asks about: the NLU's aspect entities first, then keywords it missed
    ("phí bao nhiêu và mất mấy ngày" -> fee, duration). Button payloads name none."""
    aspects = [v for v in tracker.get_latest_entity_values("aspect") if v in ASPECTS]
    if not text.startswith("/"):
        aspects += question_aspects(text, lang)
    return list(dict.fromkeys(aspects))


def choose_payload(**entities: str) -> str:
    """A button payload that picks a procedure or a narrowing option: ``/choose_procedure{...}``."""
    import json

    return "/choose_procedure" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def conversation_language(tracker: Tracker) -> str:
    """Language of the latest typed message (button payloads such as "/choose_procedure{...}" do not count)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and not (event.get("text") or "").startswith("/"):
            return detect_language(event.get("text") or "")
    return "vi"


def answer_confidence(tracker: Tracker, resolution) -> List[Dict[Text, Any]]:
    """The slot ``answer_confidence`` (read by the review queue, core/review/signals.py) for a typed question: the
    search's calibrated confidence when the answer is the search's own top entry; emptied when the question gets
    anything else (a follow-up or joined answer, a question back, an abstention). Button payloads leave it."""
    value = resolution.confidence if resolution.kind in ("answer", "faq") else None
    if value is None:
        return [SlotSet("answer_confidence", None)] if tracker.get_slot("answer_confidence") is not None else []
    return [SlotSet("answer_confidence", round(float(value), 4))]


class UsesKnowledge:
    """The knowledge service of an action: injectable for tests, else the process-wide one (loaded on first use).
    A mixin, not an ``Action`` (see ``NamedAction``)."""

    def __init__(self, service=None) -> None:
        self._service = service

    @property
    def service(self):
        return self._service or knowledge_service()


class ActionAnswerProcedure(UsesKnowledge, NamedAction, Action):
    """Answer the aspect asked about the procedure the citizen means (or ask which one)."""

    action_name = "action_answer_procedure"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, response=None) -> List[Dict[Text, Any]]:
        """Answer the latest message as a procedure question; ``response`` is its search response when the caller
        (a routing action) already searched."""
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        chosen = next(tracker.get_latest_entity_values("procedure_code"), None)
        narrow_value = next(tracker.get_latest_entity_values("narrow_value"), None)
        current = tracker.get_slot("procedure_code")
        lang = conversation_language(tracker)
        aspects = latest_aspects(tracker, text, lang)
        pending = Question.from_state(tracker.get_slot("narrowing"))
        # A new message ends a pending narrowing question unless it answers it (then the answer says so again).
        events: List[Dict[Text, Any]] = (
            [SlotSet("narrowing", None), SlotSet("narrowing_pending", False)] if pending is not None else [])
        hotline = get_settings().support_hotline
        if (intent == "ask_procedure" and pending is None and not tracker.active_loop_name
                and asks_status_outright(text)):
            # Clear status words the NLU read as a procedure question ("hs cấp đổi gplx của e sao rồi ạ"): the
            # citizen asks about an application already submitted, so the status form asks for its code.
            return [FollowupAction(STATUS_FORM)]
        try:
            if intent == "choose_procedure" and chosen:
                proc = self.service.procedure(chosen)
                if proc is None:
                    dispatcher.utter_message(response=in_language("utter_procedure_not_found", lang),
                                             code=shorten(chosen, 20))
                    # A made-up code in a message entity never stays in the slot (analytics read it).
                    return events + ([SlotSet("procedure_code", None)] if current == chosen else [])
                remembered = pending.aspects if pending is not None else [tracker.get_slot("aspect")]
                return events + self._answer(dispatcher, proc, aspects or [a for a in remembered if a], lang)
            if pending is not None:
                typed = "" if text.startswith("/") else text
                option = get_narrowing().pick(pending, typed, narrow_value)
                if option is not None:
                    return events + self._narrowed(dispatcher, pending, option, aspects, lang)
            if text.startswith("/"):
                # A button of a question that is no longer pending (or a payload typed by hand).
                dispatcher.utter_message(response=in_language("utter_procedure_ask_topic", lang))
                return events
            resolution = self.service.resolve(text, current, has_aspect=bool(aspects), response=response)
        except Exception as exc:  # the citizen gets an apology, the log gets the trace
            from knowledge.index import KnowledgeIndexError

            if isinstance(exc, KnowledgeIndexError):  # its message names the file and the rebuild command
                logger.error("%s Procedure questions get an apology until then.", exc)
            else:
                logger.exception("Knowledge search failed")
            dispatcher.utter_message(response=in_language("utter_procedure_error", lang), hotline=hotline)
            return events

        remember = [SlotSet("aspect", aspects[0])] if aspects else []
        events += answer_confidence(tracker, resolution)
        if resolution.kind == "answer":
            if resolution.follow_up and not aspects:
                aspects = [tracker.get_slot("aspect")] if tracker.get_slot("aspect") else []
            if resolution.joined:
                dispatcher.utter_message(response=in_language("utter_procedure_joined", lang))
            return events + self._answer(dispatcher, resolution.procedure, aspects, lang, resolution.local_level)
        if resolution.kind == "faq":
            faq = resolution.faq
            dispatcher.utter_message(text=f"{faq.answer}\n{SOURCE_LABEL[lang]}: {faq.source}")
            if resolution.candidates:  # the search was not sure: the procedures it found stay one tap away
                dispatcher.utter_message(
                    response=in_language("utter_procedure_suggest_after_faq", lang),
                    buttons=[*self._procedure_buttons(resolution.candidates, lang), human_button(lang)],
                )
                return events + remember
            return events
        if resolution.kind == "choose":
            first = resolution.candidates[0]
            siblings = [first, *(h for h in resolution.candidates[1:] if are_siblings(first, h))]
            procedures = [p for p in (self.service.procedure(h.code) for h in siblings) if p is not None]
            question = get_narrowing().plan(procedures, aspects=aspects) if lang == "vi" else None
            if question is not None:
                said = get_narrowing().said_in(question, text)
                if said is not None:  # the message already says which: as if the citizen had tapped it
                    return events + remember + self._narrowed(dispatcher, question, said, aspects, lang)
                return events + remember + self._ask(dispatcher, question)
            self._list(dispatcher, resolution.candidates, lang)
            return events + remember
        if resolution.kind == "ask_topic":
            dispatcher.utter_message(response=in_language("utter_procedure_ask_topic", lang))
            return events + remember
        if resolution.kind == "several":
            return events + remember + self._several(dispatcher, resolution.candidates, aspects, lang)
        # Abstaining: never an answer, but the procedures the citizen may mean (if any) and always a person.
        suggestions = self._procedure_buttons(resolution.candidates, lang)
        feedback = ([{"title": FEEDBACK_BUTTON_TITLE[lang], "payload": "/file_feedback"}]
                    if is_feedback_request(text) else [])
        dispatcher.utter_message(
            response=in_language("utter_procedure_suggest" if suggestions else "utter_procedure_unknown", lang),
            hotline=hotline,
            buttons=[*suggestions, *feedback, human_button(lang)],
        )
        return events + (remember if suggestions else [])

    @staticmethod
    def _procedure_buttons(hits, lang: str = "vi") -> List[Dict[Text, Any]]:
        """One button per procedure (its name, in English for an English conversation when it has one; the payload
        picks it): suggestions, "which of these?" lists and the several-procedures answer."""
        return [{"title": shorten((lang == "en" and english_name(hit.code)) or hit.name, 90),
                 "payload": choose_payload(procedure_code=hit.code)} for hit in hits]

    def _several(self, dispatcher: CollectingDispatcher, hits, aspects: List[str], lang: str) -> List[Dict[Text, Any]]:
        """Each procedure a message names, briefly (the aspects asked, else the short card), with a button to open
        each in full. No procedure becomes the conversation's current one: a follow-up must say which."""
        procedures = [p for p in (self.service.procedure(h.code) for h in hits) if p is not None]
        dispatcher.utter_message(response=in_language("utter_procedure_several", lang), count=len(procedures))
        for proc in procedures:
            dispatcher.utter_message(text=format_answer(proc, aspects, lang, brief=True))
        dispatcher.utter_message(
            response=in_language("utter_procedure_several_pick", lang),
            buttons=self._procedure_buttons(procedures, lang),
        )
        return [SlotSet("procedure_code", None)]

    def _list(self, dispatcher: CollectingDispatcher, candidates, lang: str) -> None:
        """"Which of these?" with the candidates' names as buttons."""
        dispatcher.utter_message(
            response=in_language("utter_procedure_choose", lang),
            buttons=self._procedure_buttons(candidates, lang),
        )

    def _ask(self, dispatcher: CollectingDispatcher, question: Question) -> List[Dict[Text, Any]]:
        """Ask a narrowing question: one short button per option (an option of one procedure picks it)."""
        buttons = [
            {"title": option.label,
             "payload": (choose_payload(procedure_code=option.codes[0]) if len(option.codes) == 1
                         else choose_payload(narrow_value=option.value))}
            for option in question.options
        ]
        dispatcher.utter_message(text=question.text, buttons=buttons)
        return [SlotSet("narrowing", question.to_state()), SlotSet("narrowing_pending", True)]

    def _narrowed(self, dispatcher: CollectingDispatcher, pending: Question, option, aspects: List[str],
                  lang: str) -> List[Dict[Text, Any]]:
        """The citizen picked ``option``: answer its procedure, or ask the next question between its siblings."""
        aspects = aspects or pending.aspects
        procedures = [p for p in (self.service.procedure(c) for c in option.codes) if p is not None]
        if len(procedures) == 1:
            return self._answer(dispatcher, procedures[0], aspects, lang)
        question = get_narrowing().plan(procedures, number=pending.number + 1, aspects=aspects)
        if question is not None:
            return self._ask(dispatcher, question)
        self._list(dispatcher, procedures, lang)
        return [SlotSet("aspect", aspects[0])] if aspects else []

    def _answer(
        self, dispatcher: CollectingDispatcher, proc, aspects: List[str], lang: str = "vi", local_level: str = ""
    ) -> List[Dict[Text, Any]]:
        text = format_answer(proc, aspects, lang)
        if local_level:
            level = local_level.replace("cấp ", "") if lang == "en" else local_level
            dispatcher.utter_message(response=in_language("utter_procedure_local_level", lang), answer=text,
                                     level=level, province=get_settings().province)
        else:
            dispatcher.utter_message(text=text)
        return [
            SlotSet("procedure_code", proc.code),
            SlotSet("procedure_name", proc.name),
            SlotSet("aspect", aspects[0] if aspects else None),
        ]


class ValidateSlotMappings(UsesKnowledge, ValidationAction):
    """Entity values become slots only when valid (Rasa runs ``action_validate_slot_mappings`` after extracting).

    A message can carry any entity value (``/choose_procedure{"procedure_code":"=2+3"}``): ``procedure_code`` must
    be a procedure of the knowledge base and ``aspect`` one of the known aspects, otherwise the slot is emptied.
    """

    def validate_procedure_code(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> Dict[Text, Any]:
        if is_procedure_code(slot_value) and self.service.procedure(slot_value) is not None:
            return {"procedure_code": slot_value}
        logger.info("Entity procedure_code rejected: not a procedure of the knowledge base")
        return {"procedure_code": None}

    def validate_aspect(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> Dict[Text, Any]:
        return {"aspect": slot_value if isinstance(slot_value, str) and slot_value in ASPECTS else None}
