"""Shared pieces of the notification tests: a settable clock, a stored application with subscribers, and a worker
wired to the fake Zalo server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from core.db import Database
from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscriptions
from core.notifications.worker import Worker, WorkerRules
from core.status.models import PROCESSING
from core.status.sql import SqlStatusBackend
from notifier.zalo import ZaloNotifier
from tests.fakes.status import at, make_app
from tests.fakes.zalo_api_server import FakeZaloServer

CODE = "H07.02-251120-0003"
HOTLINE = "18001096"


class Clock:
    """A clock the test moves: ``clock()`` is now, ``clock.advance(seconds=...)`` moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self.now += timedelta(**delta)


def seed_application(db: Database, status: str = PROCESSING) -> None:
    """Store the test application (Đăng ký khai sinh, H07.02-251120-0003) in ``status``."""
    SqlStatusBackend(db).save(make_app(status, since=at(21)), phone="0912345678", id_number="001099001234")


def zalo_worker(db: Database, fake: FakeZaloServer, clock: Clock, *, last_seen: Callable[[str], datetime | None],
                rules: WorkerRules | None = None, worker_id: str = "w1") -> Worker:
    """A worker delivering Zalo notifications through ``fake`` at ``clock``'s time."""
    notifier = ZaloNotifier(fake.url, lambda: fake.access_token, last_seen, cs_window=timedelta(hours=48),
                            clock=clock)
    return Worker(Outbox(db, clock=clock), Subscriptions(db, clock=clock), {"zalo": notifier}, rules=rules,
                  clock=clock, worker_id=worker_id)
