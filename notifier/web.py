"""Web chat delivery of notifications: the message is appended to the citizen's conversation in Rasa and sent
through the socket.io channel the widget listens on (``bot_uttered`` in the conversation's room), the way officers'
replies reach it. A widget that is closed at that moment fetches the pushed messages it missed when it comes back
(``GET /webhooks/rest/pushed``, channels/rest.py), so the notification is never only in a room nobody was in.

Rasa's HTTP API is called through the staff API's client (:class:`staff_api.rasa_client.RasaClient`: JWT-signed,
the output channel chosen by :func:`~staff_api.rasa_client.output_channel_for`). Rasa unreachable or answering
5xx (or refusing the token) is a temporary failure the worker retries; a conversation Rasa does not know (its
tracker deleted) is permanent.

Each pushed message carries its outbox row's id in its metadata (``notification_id``), so a worker that finds a
row whose earlier attempt was interrupted can read the conversation's tracker and see whether it arrived.
"""

from __future__ import annotations

from datetime import datetime

from core.chat_session import PUSHED_METADATA_KEY
from core.notifications.delivery import DeliveryResult, Notifier
from core.notifications.subscriptions import Subscription
from staff_api.rasa_client import RasaClient, RasaError, output_channel_for

# The channel names the Rasa server records for the web widget's messages: it asks over the REST channel and may
# also post on its socket.io connection (channels/socketio_push.py). Both are delivered through socket.io.
WEB_CHANNELS = ("rest", "socketio")
UNSUBSCRIBE_BUTTON = {"title": "Hủy thông báo", "payload": "/unsubscribe_notifications"}
# Metadata of the bot event: marks it pushed (the widget's catch-up) and as a notification in the transcript.
NOTIFICATION_METADATA = {PUSHED_METADATA_KEY: True, "notification": True}
NOTIFICATION_ID_KEY = "notification_id"  # the outbox row's id, in the bot event's metadata


def notification_message(text: str, outbox_id: int) -> dict:
    """The bot event (without its ``event`` key) carrying ``text`` (outbox row ``outbox_id``) and the unsubscribe
    button."""
    return {"text": text, "data": {"buttons": [dict(UNSUBSCRIBE_BUTTON)]},
            "metadata": {**NOTIFICATION_METADATA, NOTIFICATION_ID_KEY: outbox_id}}


def carries_notification(event: dict, outbox_id: int) -> bool:
    """Whether a tracker event is the bot message of outbox row ``outbox_id``."""
    metadata = event.get("metadata") if isinstance(event, dict) else None
    return (event.get("event") == "bot" and isinstance(metadata, dict)
            and metadata.get(NOTIFICATION_ID_KEY) == outbox_id)


class WebChatNotifier(Notifier):
    """Pushes notifications into web chat conversations through Rasa's HTTP API."""

    def __init__(self, rasa: RasaClient) -> None:
        self.rasa = rasa

    def deliver(self, subscription: Subscription, text: str, outbox_id: int) -> DeliveryResult:
        """Append the notification to the conversation and push it to the open widget."""
        route = output_channel_for(subscription.channel)
        try:
            if not self.rasa.conversation_exists(subscription.sender_id):
                return DeliveryResult(ok=False, route=route, error="conversation not found in Rasa", permanent=True)
            message = notification_message(text, outbox_id)
            self.rasa.push_message(subscription.sender_id, subscription.channel, message)
        except RasaError as exc:
            return DeliveryResult(ok=False, route=route, error=str(exc))
        return DeliveryResult(ok=True, route=route)

    def already_delivered(self, subscription: Subscription, text: str, outbox_id: int,
                          since: datetime) -> bool | None:
        """Whether the conversation's tracker holds the bot message of outbox row ``outbox_id`` (None: Rasa could
        not be asked)."""
        try:
            events = self.rasa.tracker_events(subscription.sender_id)
        except RasaError:
            return None
        return any(carries_notification(event, outbox_id) for event in events)
