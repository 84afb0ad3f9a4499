"""Shared pieces of the notification tests: a settable clock, a stored application with subscribers, its change to
"result ready" (and the notification text it makes), and workers wired to the fake Zalo server or the fake Rasa
server (web chat)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from core.db import Database
from core.notifications.delivery import DeliveryResult, Notifier
from core.notifications.events import StatusUpdate, change_application_status
from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscription, Subscriptions
from core.notifications.worker import Worker, WorkerRules
from core.status.models import PROCESSING, RESULT_READY
from core.status.sql import SqlStatusBackend
from core.zalo_tokens import TokenStore
from notifier.web import WEB_CHANNELS, WebChatNotifier
from notifier.zalo import ZaloNotifier, token_exchange
from staff_api.rasa_client import RasaClient
from tests.fakes.status import at, make_app
from tests.fakes.zalo_api_server import FakeZaloServer

CODE = "H07.02-251120-0003"
HOTLINE = "18001096"
DAYTIME = at(24, 10)  # Monday 24/11/2025 10:00, Vietnam time

# The notification of the change made by :func:`result_ready` at DAYTIME.
EXPECTED_TEXT = (
    "Hồ sơ H07.02-******-0003 (Đăng ký khai sinh) đã chuyển từ “Đang xử lý” sang “Đã có kết quả” lúc 10:00 ngày "
    "24/11/2025.\n"
    "Kết quả đã sẵn sàng. Nơi nhận kết quả: Bộ phận Một cửa UBND phường Võ Cường. Khi đi nhận, bạn mang theo giấy "
    "tiếp nhận hồ sơ và hẹn trả kết quả cùng giấy tờ tùy thân.\n"
    "Nhắn “hủy thông báo” để ngừng nhận."
)


class WorkerKilled(BaseException):
    """The worker process dies (SIGKILL): nothing after this point runs, no handler records an outcome."""


class DyingNotifier(Notifier):
    """Wraps a notifier and kills the worker during the channel call: after the message went out
    (``sent_first=True``, the worker died before recording it) or before it did."""

    def __init__(self, inner: Notifier, *, sent_first: bool) -> None:
        self.inner = inner
        self.sent_first = sent_first

    def deliver(self, subscription: Subscription, text: str, outbox_id: int) -> DeliveryResult:
        if self.sent_first:
            self.inner.deliver(subscription, text, outbox_id)
        raise WorkerKilled()


def dying(worker: Worker, *, sent_first: bool) -> Worker:
    """``worker`` with each of its notifiers wrapped in :class:`DyingNotifier`."""
    worker.notifiers = {channel: DyingNotifier(n, sent_first=sent_first) for channel, n in worker.notifiers.items()}
    return worker


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


def result_ready(clock: Clock, db: Database) -> None:
    """The officer records the result of the test application (ready at the one-stop desk of Võ Cường ward)."""
    update = StatusUpdate.from_request({"status": RESULT_READY, "note": "Đã ký giấy khai sinh",
                                        "result_pickup": "Bộ phận Một cửa UBND phường Võ Cường"})
    change_application_status(db, CODE, update, hotline=HOTLINE, clock=clock)


def refreshing_notifier(fake: FakeZaloServer, tokens: TokenStore, clock: Clock, *,
                        last_seen: Callable[[str], datetime | None]) -> ZaloNotifier:
    """A notifier sending with ``tokens``' in-memory access token (as a process that has not re-read the file) and
    refreshing it through the shared protocol at ``fake``'s OAuth endpoint."""
    exchange = token_exchange(fake.url, fake.app_id, fake.secret_key, timeout_s=5.0)
    return ZaloNotifier(fake.url, lambda: tokens.access_token, last_seen, cs_window=timedelta(hours=48),
                        clock=clock, refresh=lambda rejected: tokens.refresh(rejected, exchange))


def zalo_worker(db: Database, fake: FakeZaloServer, clock: Clock, *, last_seen: Callable[[str], datetime | None],
                rules: WorkerRules | None = None, worker_id: str = "w1", tokens: TokenStore | None = None) -> Worker:
    """A worker delivering Zalo notifications through ``fake`` at ``clock``'s time (refreshing the access token in
    ``tokens`` when given, else always sending the fake's current one)."""
    notifier = (refreshing_notifier(fake, tokens, clock, last_seen=last_seen) if tokens is not None else
                ZaloNotifier(fake.url, lambda: fake.access_token, last_seen, cs_window=timedelta(hours=48),
                             clock=clock))
    return Worker(Outbox(db, clock=clock), Subscriptions(db, clock=clock), {"zalo": notifier}, rules=rules,
                  clock=clock, worker_id=worker_id)


def web_worker(db: Database, rasa_url: str, token: str | None, clock: Clock, *, rules: WorkerRules | None = None,
               worker_id: str = "w1") -> Worker:
    """A worker delivering web chat notifications through the Rasa HTTP API at ``rasa_url`` at ``clock``'s time."""
    notifier = WebChatNotifier(RasaClient(rasa_url, token, timeout_s=5.0))
    return Worker(Outbox(db, clock=clock), Subscriptions(db, clock=clock),
                  {channel: notifier for channel in WEB_CHANNELS}, rules=rules, clock=clock, worker_id=worker_id)
