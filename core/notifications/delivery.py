"""The interface a channel implements to deliver a notification (Zalo OA, the web chat: package ``notifier``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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
    def deliver(self, subscription: Subscription, text: str) -> DeliveryResult:
        """Send ``text`` to the subscriber; never raises for a delivery failure (returns it instead)."""
