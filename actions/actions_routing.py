"""Routing actions: the NLU's intent is a signal, not the last word, for the status form and the FAQ answers.

Rules (data/rules/services.yml, data/rules/procedures.yml, data/rules/forms.yml, data/rules/basic.yml) run these
actions for the intents ``check_application_status``, ``file_feedback``, ``faq``, ``out_of_scope`` and
``bot_challenge``. Each one sets the slot
``request_route`` and the rules branch on it:

- ``status``: the application-status form follows (the message carries a code or clear status words);
- ``feedback``: the feedback form follows (clear feedback words, or no procedure the search is sure of);
- ``faq``: the response selector's FAQ answer follows (``utter_faq``);
- ``out_of_scope``: the out-of-scope reply follows (``utter_out_of_scope``);
- ``bot_challenge``: "I am a virtual assistant" follows (``utter_iamabot``);
- ``procedure``: the action has already answered the message as a procedure question, exactly as
  ``action_answer_procedure`` would have.

``action_handle_fallback`` (actions/actions_dialogue.py) applies the out-of-scope rule to unclear messages.

The decisions themselves are plain functions in ``core/routing.py``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import NamedAction, latest_text
from actions.actions_procedure import ActionAnswerProcedure, UsesKnowledge
from core.routing import (
    faq_beats_procedures,
    feedback_form_starts,
    is_feedback_request,
    is_status_request,
    mentions_the_bot,
    search_answers_procedure,
)

logger = logging.getLogger(__name__)

ROUTE_SLOT = "request_route"


def _route(value: str) -> Dict[Text, Any]:
    return SlotSet(ROUTE_SLOT, value)


class AnswersProcedureQuestions(UsesKnowledge):
    """For the actions of intents that can swallow a procedure question (the routing actions below, the rating
    actions): search the message once and answer it as a procedure question, exactly as ``action_answer_procedure``
    would, when ``answers(response)``. A mixin, not an ``Action`` (see ``NamedAction``)."""

    def answered_as_procedure(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              answers: Callable[[Any], bool]) -> Optional[List[Dict]]:
        """The procedure answer's events, or None when the message stays with its intent: ``answers`` said no, or
        the search failed (the intent's own reply needs no index: better than an apology)."""
        try:
            response = self.service.search(latest_text(tracker))
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("Knowledge search failed; %s keeps the intent", self.name())
            return None
        if not answers(response):
            return None
        logger.info("%s overruled: the search answers a procedure, answered as one", self.name())
        return ActionAnswerProcedure(service=self._service).respond(dispatcher, tracker, response)


class _Routing(AnswersProcedureQuestions, NamedAction):
    """Shared by the routing actions: the knowledge service (injectable for tests), the procedure answer and the run
    of the searching routes. A mixin, not an ``Action`` (see ``NamedAction``).

    ``respond`` sets ``route`` for a button payload (an explicit choice) or when ``decided_without_search(text)``;
    otherwise it searches the message once (``answered_as_procedure``) and keeps ``route`` when
    ``keeps_route(text, response)``."""

    route = ""

    def answer_procedure(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict]:
        """Answer as ``action_answer_procedure`` does, then mark the route."""
        events = ActionAnswerProcedure(service=self._service).respond(dispatcher, tracker)
        return [*events, _route("procedure")]

    def decided_without_search(self, text: str) -> bool:
        return False

    def keeps_route(self, text: str, response) -> bool:
        raise NotImplementedError

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/") or self.decided_without_search(text):
            return [_route(self.route)]
        events = self.answered_as_procedure(dispatcher, tracker, lambda response: not self.keeps_route(text, response))
        return [_route(self.route)] if events is None else [*events, _route("procedure")]


class ActionRouteStatusRequest(_Routing, Action):
    """``check_application_status``: the status form only with an application code or clear status words."""

    action_name = "action_route_status_request"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        # A button payload ("/check_application_status") is an explicit choice.
        if text.startswith("/") or is_status_request(text, entities):
            return [_route("status")]
        logger.info("check_application_status without a code or status words: answered as a procedure question")
        return self.answer_procedure(dispatcher, tracker)


class ActionRouteFeedbackRequest(_Routing, Action):
    """``file_feedback``: the feedback form unless the message is a procedure question the search is sure of."""

    action_name = "action_route_feedback_request"
    route = "feedback"

    def decided_without_search(self, text: str) -> bool:
        # Clear feedback words decide without a search.
        return is_feedback_request(text)

    def keeps_route(self, text: str, response) -> bool:
        return feedback_form_starts(text, response)


class ActionRouteFaq(_Routing, Action):
    """``faq``: the FAQ answer only when the FAQ entry beats the procedure candidates of the knowledge search."""

    action_name = "action_route_faq"
    route = "faq"

    def keeps_route(self, text: str, response) -> bool:
        return faq_beats_procedures(response)


class ActionRouteOutOfScope(_Routing, Action):
    """``out_of_scope``: the out-of-scope reply unless the knowledge search is confident about a procedure."""

    action_name = "action_route_out_of_scope"
    route = "out_of_scope"

    def keeps_route(self, text: str, response) -> bool:
        return not search_answers_procedure(response)


class ActionRouteBotChallenge(_Routing, Action):
    """``bot_challenge``: "I am a virtual assistant" for a message about the assistant the search does not answer, or
    one without a topic; otherwise a procedure question (the classifier reads short procedure questions such as "tích
    hợp bằng lái vào căn cước" as a bot challenge), answered with the search's answer, siblings or suggestions."""

    action_name = "action_route_bot_challenge"
    route = "bot_challenge"

    def keeps_route(self, text: str, response) -> bool:
        if search_answers_procedure(response):
            return False
        return mentions_the_bot(text) or getattr(response, "no_topic", False) or not getattr(response, "results", None)
