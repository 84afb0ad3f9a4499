"""Status-change notifications in the conversation (issue 17): the offer after a verified status lookup, consent,
unsubscribing and the list of the citizen's subscriptions.

Thin layer over ``core.notifications.subscriptions``. A subscription is keyed by the channel and the sender id as
the Rasa server recorded them for the latest message (``input_channel``, ``tracker.sender_id``), never by a slot or
metadata the client could fill. Consent is stored only for a code this conversation proved both factors for, checked
again on the server's own records (``AttemptLimiter.verified`` through ``server_verified``) at the moment of
subscribing: a tracker whose ``notification_offer`` or ``verified_applications`` slot was forged subscribes nothing.
Codes are shown masked in every reply, even to the verified citizen.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import NamedAction, StoreAction, is_button_payload, latest_intent, latest_text
from actions.actions_procedure import ActionAnswerProcedure
from actions.actions_routing import AnswersProcedureQuestions
from actions.actions_status import input_channel, server_verified, status_services
from core.appcode import extract_application_code, mask_code
from core.office_hours import QUIET_END, QUIET_START
from core.routing import notification_intent_kept, notification_match
from settings import get_settings

logger = logging.getLogger(__name__)

# The canonical code the bot just offered notifications for (set by action_check_status after a verified lookup,
# cleared by every answer to the offer). Featurized: "có" / "không" answer the offer only while it is set.
OFFER_SLOT = "notification_offer"
# The citizen's own requests (data/nlu/notifications.yml); the offer itself is answered with affirm / deny.
NOTIFICATION_INTENTS = frozenset({"subscribe_notifications", "unsubscribe_notifications", "list_notifications"})


@lru_cache(maxsize=1)
def notification_subscriptions():
    """The process-wide subscription store (built from the settings on first use)."""
    from core.notifications.subscriptions import subscriptions_from_settings

    return subscriptions_from_settings(get_settings())


def typed_code(tracker: Tracker) -> Optional[str]:
    """The application code the latest message names (typed in any format or in a button payload's entity)."""
    entity = next(tracker.get_latest_entity_values("application_code"), None)
    return extract_application_code(latest_text(tracker)) or extract_application_code(entity)


def offer_notifications(dispatcher: CollectingDispatcher, tracker: Tracker, code: str, store=None) -> List[EventType]:
    """After a verified lookup of ``code``: ask whether the citizen wants notifications for it, unless this sender
    already follows it. Nothing is offered when the store (``store``, else the configured one) cannot be read: the
    consent could not be stored either."""
    try:
        store = store or notification_subscriptions()
        followed = {s.code for s in store.list_for(input_channel(tracker), tracker.sender_id)}
    except Exception:  # noqa: BLE001 - the status answer stands; the offer is left out
        logger.exception("Could not read the notification subscriptions before offering %s", mask_code(code))
        return []
    if code in followed:
        return []
    dispatcher.utter_message(response="utter_notify_offer", code=mask_code(code))
    return [SlotSet(OFFER_SLOT, code)]


class NotificationAction(AnswersProcedureQuestions, StoreAction):
    """The subscription store and the knowledge service, injectable for tests (a mixin, not an ``Action``: see
    ``StoreAction``)."""

    default_store = staticmethod(notification_subscriptions)

    def __init__(self, store=None, service=None) -> None:
        StoreAction.__init__(self, store)
        self._service = service

    @staticmethod
    def hotline() -> str:
        return get_settings().support_hotline

    def procedure_instead(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
        """A message the NLU gave a notification intent without any words about notifications ("chấp thuận danh
        sách dự kiến nhân sự" read as list_notifications) is answered as ``action_answer_procedure`` would answer
        it; one with "thông báo" alone is when the search answers a procedure with confidence ("thông báo hủy biên
        lai hải quan"; core.routing.notification_intent_kept). None when the message is this action's to answer. A
        yes to the offer ("có") and button payloads are always this action's."""
        text = latest_text(tracker)
        if latest_intent(tracker)[0] not in NOTIFICATION_INTENTS or is_button_payload(text):
            return None
        why = notification_match(text)
        if why == "notice":
            return self.answered_as_procedure(dispatcher, tracker,
                                              lambda response: not notification_intent_kept(text, response))
        if why:
            return None
        logger.info("%s without notification words: answered as a procedure question", latest_intent(tracker)[0])
        return ActionAnswerProcedure(service=self._service).respond(dispatcher, tracker)

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        raise NotImplementedError

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        procedure = self.procedure_instead(dispatcher, tracker)
        return procedure if procedure is not None else self.answer(dispatcher, tracker)


class ActionSubscribeNotifications(NotificationAction, Action):
    """Store the citizen's consent for the offered code (or the code they name) once the server confirms this
    conversation verified it; otherwise explain that a status lookup comes first."""

    action_name = "action_subscribe_notifications"

    def __init__(self, store=None, limiter=None, service=None, quiet_hours: Optional[bool] = None) -> None:
        """``store`` / ``limiter`` / ``service`` / ``quiet_hours`` are injectable for tests; default to the configured
        services and ``NOTIFY_QUIET_HOURS``."""
        super().__init__(store, service)
        self._limiter = limiter
        self._quiet_hours = quiet_hours

    def quiet_hours(self) -> bool:
        """Whether the worker holds notifications at night (the consent reply says so only then)."""
        return get_settings().notify_quiet_hours if self._quiet_hours is None else self._quiet_hours

    def _candidate(self, tracker: Tracker) -> Optional[str]:
        """The named code, else the offered one, else the only code verified in this conversation."""
        verified = list(tracker.get_slot("verified_applications") or {})
        return typed_code(tracker) or tracker.get_slot(OFFER_SLOT) or (verified[0] if len(verified) == 1 else None)

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        code = self._candidate(tracker)
        limiter = self._limiter or status_services()[1]
        if not code or not server_verified(limiter, tracker, code):
            logger.info("Notification consent refused: no verified lookup of %s here", mask_code(code) or "any code")
            dispatcher.utter_message(response="utter_notify_need_lookup")
            return [SlotSet(OFFER_SLOT, None)]
        try:
            created = self.store.subscribe(input_channel(tracker), tracker.sender_id, code)
        except Exception:  # noqa: BLE001 - apologise; the offer stays open so "có" / "nhận thông báo" can retry
            logger.exception("Storing the notification consent for %s failed", mask_code(code))
            dispatcher.utter_message(response="utter_notify_store_error", hotline=self.hotline())
            return []
        if created and self.quiet_hours():
            dispatcher.utter_message(response="utter_notify_subscribed", code=mask_code(code),
                                     quiet_from=QUIET_START.hour, quiet_to=QUIET_END.hour)
        elif created:
            dispatcher.utter_message(response="utter_notify_subscribed_anytime", code=mask_code(code))
        else:
            dispatcher.utter_message(response="utter_notify_already", code=mask_code(code))
        return [SlotSet(OFFER_SLOT, None)]


class ActionDeclineNotifications(NamedAction, Action):
    """"Không" to the offer: acknowledge, store nothing."""

    action_name = "action_decline_notifications"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        dispatcher.utter_message(response="utter_notify_declined")
        return [SlotSet(OFFER_SLOT, None)]


class ActionUnsubscribeNotifications(NotificationAction, Action):
    """"hủy thông báo": stop every subscription of this sender on this channel, or only the named code's (typed in
    full, or masked as the list shows it); the reply says how many were stopped."""

    action_name = "action_unsubscribe_notifications"

    def _named_codes(self, tracker: Tracker, channel: str) -> Optional[List[str]]:
        """The codes the latest message names: a full code, or the sender's codes whose masked form
        ("H07.99-******-0012", as the list shows them) it contains; None when it names no code (stop them all)."""
        code = typed_code(tracker)
        if code:
            return [code]
        text = latest_text(tracker).upper()
        if "*" not in text:
            return None
        return [s.code for s in self.store.list_for(channel, tracker.sender_id) if mask_code(s.code) in text]

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        channel, sender = input_channel(tracker), tracker.sender_id
        try:
            codes = self._named_codes(tracker, channel)
            if codes is None:
                stopped = self.store.unsubscribe(channel, sender)
            else:
                stopped = sum(self.store.unsubscribe(channel, sender, code) for code in codes)
        except Exception:  # noqa: BLE001 - each call is one transaction: what was not removed is still there
            logger.exception("Unsubscribing from notifications failed")
            dispatcher.utter_message(response="utter_notify_unsubscribe_error", hotline=self.hotline())
            return []
        if codes is None:
            response = "utter_notify_unsubscribed" if stopped else "utter_notify_none"
        elif stopped:
            response = "utter_notify_unsubscribed_code"
        else:
            response = "utter_notify_none_code"
        dispatcher.utter_message(response=response, count=stopped, code=", ".join(mask_code(c) for c in codes or []))
        return [SlotSet(OFFER_SLOT, None)]


class ActionListNotifications(NotificationAction, Action):
    """"thông báo của tôi": the codes this sender follows on this channel, masked, with when each was subscribed."""

    action_name = "action_list_notifications"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        try:
            subscriptions = self.store.list_for(input_channel(tracker), tracker.sender_id)
        except Exception:  # noqa: BLE001 - apologise, never show an error
            logger.exception("Listing notification subscriptions failed")
            dispatcher.utter_message(response="utter_notify_list_error", hotline=self.hotline())
            return []
        if not subscriptions:
            dispatcher.utter_message(response="utter_notify_list_empty")
            return []
        lines = "\n".join(f"• {mask_code(s.code)} (đăng ký ngày {s.created_at:%d/%m/%Y})" for s in subscriptions)
        dispatcher.utter_message(response="utter_notify_list", count=len(subscriptions), codes=lines)
        return []
