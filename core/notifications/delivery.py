"""The interface a channel implements to deliver a notification (Zalo OA, the web chat: package ``notifier``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from core.notifications.subscriptions import Subscription


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery attempt.

    ``route`` says how it went out (e.g. "cs" or "template" on Zalo); ``permanent`` failures are not retried
    (the recipient blocked the OA, the request itself is invalid); ``error`` is a short reason for the log.
    """

    ok: bool
    route: str = ""
    error: str | None = None
    permanent: bool = False


class Notifier(ABC):
    """Delivers notification texts on one channel."""

    @abstractmethod
    def deliver(self, subscription: Subscription, text: str, outbox_id: int) -> DeliveryResult:
        """Send ``text`` (the outbox row ``outbox_id``) to the subscriber; never raises for a delivery failure
        (returns it instead)."""

    def already_delivered(self, subscription: Subscription, text: str, outbox_id: int,
                          since: datetime) -> bool | None:
        """Whether the notification (outbox row ``outbox_id``, ``text``) reached the subscriber after ``since``
        (an attempt that started then and recorded no outcome); None when the channel cannot tell. Never raises.

        The default cannot tell: the worker then sends again (at-least-once)."""
        return None
