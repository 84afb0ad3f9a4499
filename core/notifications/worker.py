"""The delivery worker: claims due outbox rows, applies the rules (still subscribed, quiet hours, per-citizen rate
limit), delivers through the channel's :class:`~core.notifications.delivery.Notifier`, and records the outcome
(retries with exponential backoff, then gives up).

Several workers (threads, processes, replicas) may run on one database: each row is claimed by one of them
(:class:`~core.notifications.outbox.Outbox`), so each change reaches each subscriber once.

A worker killed during the channel call leaves its rows claimed with an attempt started and no outcome. The worker
that takes such an in-doubt row after the lease first asks the channel whether the message arrived
(:meth:`~core.notifications.delivery.Notifier.already_delivered`): arrived → recorded sent (reconciled), not resent;
not arrived → sent; the channel cannot tell → sent anyway (at-least-once) and logged as such.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from core.appcode import mask_code
from core.db import now_vn
from core.notifications.delivery import DeliveryResult, Notifier
from core.notifications.outbox import Outbox, OutboxItem
from core.notifications.subscriptions import Subscription, Subscriptions
from core.office_hours import quiet_hours_end

log = logging.getLogger(__name__)

# The log's reasons for an interrupted attempt (a worker died during the channel call) that is sent again.
INTERRUPTED_NOT_DELIVERED = "interrupted attempt not delivered (checked with the channel)"
INTERRUPTED_UNKNOWN = "interrupted attempt: the channel cannot tell whether it arrived; sent again"


@dataclass(frozen=True)
class WorkerRules:
    """Retry, rate-limit and quiet-hours rules (settings: NOTIFY_MAX_ATTEMPTS, NOTIFY_BACKOFF_S,
    NOTIFY_RATE_LIMIT_*, NOTIFY_QUIET_HOURS)."""

    max_attempts: int = 8
    backoff_s: float = 30.0  # first retry after this, doubling each time
    backoff_max_s: float = 3600.0
    rate_limit_count: int = 5  # at most this many notifications per citizen ...
    rate_limit_window_s: float = 3600.0  # ... in this window
    quiet_hours: bool = True  # hold notifications between 21:00 and 7:00 Vietnam time

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: backoff_s · 2^(attempts-1), at most backoff_max_s."""
        return timedelta(seconds=min(self.backoff_s * (2 ** max(attempts - 1, 0)), self.backoff_max_s))


def rules_from_settings(settings) -> WorkerRules:
    """The worker rules of ``settings``."""
    return WorkerRules(max_attempts=settings.notify_max_attempts, backoff_s=settings.notify_backoff_s,
                       backoff_max_s=settings.notify_backoff_max_s,
                       rate_limit_count=settings.notify_rate_limit_count,
                       rate_limit_window_s=settings.notify_rate_limit_window_s,
                       quiet_hours=settings.notify_quiet_hours)


def default_worker_id() -> str:
    """host:pid:random — unique per worker instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """One delivery worker; :meth:`run_once` handles one batch, :meth:`run` loops until stopped."""

    def __init__(self, outbox: Outbox, subscriptions: Subscriptions, notifiers: Mapping[str, Notifier], *,
                 rules: WorkerRules | None = None, clock: Callable[[], datetime] = now_vn,
                 worker_id: str | None = None, batch: int = 20) -> None:
        self.outbox = outbox
        self.subscriptions = subscriptions
        self.notifiers = dict(notifiers)
        self.rules = rules or WorkerRules()
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.batch = batch

    def run_once(self) -> int:
        """Claim and handle one batch of due notifications; how many were claimed."""
        items = self.outbox.claim(self.worker_id, self.batch)
        for item in items:
            self.handle(item)
        return len(items)

    def run(self, stop: threading.Event, idle_wait_s: float = 2.0) -> None:
        """Handle batches until ``stop`` is set, waiting ``idle_wait_s`` when nothing is due."""
        log.info("notification worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - database down: keep the worker alive, try again later
                log.exception("notification worker: batch failed")
                busy = 0
            if not busy:
                stop.wait(idle_wait_s)
        log.info("notification worker %s stopped", self.worker_id)

    def _subscription(self, item: OutboxItem) -> Subscription | None:
        for sub in self.subscriptions.list_for(item.channel, item.sender_id):
            if sub.code == item.code:
                return sub
        return None

    def _rate_limited_until(self, item: OutboxItem, now: datetime) -> datetime | None:
        window = timedelta(seconds=self.rules.rate_limit_window_s)
        sent = self.outbox.sent_since(item.channel, item.sender_id, now - window)
        if len(sent) < self.rules.rate_limit_count:
            return None
        return sent[-self.rules.rate_limit_count] + window

    def _settle_in_doubt(self, item: OutboxItem, subscription: Subscription, notifier: Notifier) -> OutboxItem | str:
        """Ask the channel whether the in-doubt attempt arrived: if so the row is recorded sent ("reconciled"),
        otherwise the lost attempt is counted and the row returned to be sent ("lost" if the claim was lost)."""
        attempt = item.attempt_no or item.attempts + 1
        try:
            arrived = notifier.already_delivered(subscription, item.text, item.id, item.attempt_started_at)
        except Exception:  # noqa: BLE001 - a notifier bug: "cannot tell", never a stopped worker
            log.exception("notifier %s: delivery check raised", item.channel)
            arrived = None
        if arrived:
            self.outbox.reconciled(item, self.worker_id)
            log.info("notification %d (%s): interrupted attempt %d had arrived, not resent", item.id,
                     mask_code(item.code), attempt)
            return "reconciled"
        reason = INTERRUPTED_UNKNOWN if arrived is None else INTERRUPTED_NOT_DELIVERED
        log.warning("notification %d (%s) attempt %d: %s", item.id, mask_code(item.code), attempt, reason)
        return self.outbox.interrupted(item, self.worker_id, reason) or "lost"

    def handle(self, item: OutboxItem) -> str:
        """Deliver (or hold, retry, cancel) one claimed notification; the outcome recorded."""
        wid = self.worker_id
        subscription = self._subscription(item)
        notifier = self.notifiers.get(item.channel)
        if item.in_doubt and subscription is not None and notifier is not None:
            settled = self._settle_in_doubt(item, subscription, notifier)
            if isinstance(settled, str):
                return settled
            item = settled
        if subscription is None:
            self.outbox.cancel(item, wid, "unsubscribed")
            return "cancelled"
        now = self.clock()
        quiet_end = quiet_hours_end(now) if self.rules.quiet_hours else None
        if quiet_end is not None:
            self.outbox.hold(item, wid, quiet_end, "quiet hours")
            return "held"
        limited_until = self._rate_limited_until(item, now)
        if limited_until is not None:
            self.outbox.hold(item, wid, limited_until, "rate limit")
            return "held"
        if notifier is None:  # kept for a worker that has one (a deployment adding that channel later)
            self.outbox.hold(item, wid, now + timedelta(seconds=self.rules.backoff_max_s),
                             f"no notifier for channel {item.channel}")
            return "held"
        if not self.outbox.start_attempt(item, wid):  # the lease ran out and another worker took the row
            log.warning("notification %d: claim lost before sending", item.id)
            return "lost"
        try:
            result = notifier.deliver(subscription, item.text, item.id)
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not stop the worker; retried like an outage
            log.exception("notifier %s raised", item.channel)
            result = DeliveryResult(ok=False, error=f"notifier error: {type(exc).__name__}")
        if result.ok:
            self.outbox.mark_sent(item, wid, result.route)
            log.info("notification %d (%s, %s) sent via %s", item.id, mask_code(item.code), item.channel,
                     result.route)
            return "sent"
        attempts = item.attempts + 1
        give_up = result.permanent or attempts >= self.rules.max_attempts
        retry_at = None if give_up else self.clock() + self.rules.retry_delay(attempts)
        self.outbox.mark_failed(item, wid, result.error or "delivery failed", retry_at=retry_at, route=result.route)
        log.warning("notification %d (%s) attempt %d failed: %s%s", item.id, mask_code(item.code), attempts,
                    result.error, "; giving up" if give_up else "")
        return "failed" if give_up else "retry"
