"""Effectively-once notification delivery (issue 17): a worker dies during the channel call; once its lease has run
out another worker asks the channel whether the message arrived (the fake Zalo OA's conversation history, the fake
Rasa server's tracker) before sending it again. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscription, Subscriptions
from core.notifications.worker import INTERRUPTED_NOT_DELIVERED, INTERRUPTED_UNKNOWN
from notifier.zalo import ZaloNotifier
from tests.fakes.notifications import (
    CODE,
    DAYTIME,
    EXPECTED_TEXT,
    WorkerKilled,
    dying,
    result_ready,
    seed_application,
    web_worker,
    zalo_worker,
)
from tests.fakes.rasa_server import FakeRasaServer
from tests.fakes.zalo_api_server import CONVERSATION_PATH, SEND_PATH, TRANSACTION_PATH, FakeZaloServer

USER = "1000000000000000001"
SENDER = "web-5d0c7e2a9b1f4c3e8a6d2b7f0e9c1a44"
SECRET = "rasa-jwt-secret-0123456789abcdef"
LEASE = timedelta(seconds=120)
INSIDE_WINDOW, OUTSIDE_WINDOW = timedelta(hours=3), timedelta(days=3)


@pytest.fixture
def fake(clock):
    server = FakeZaloServer(clock=lambda: clock.now.timestamp()).start()
    yield server
    server.stop()


@pytest.fixture
def rasa():
    server = FakeRasaServer(token=SECRET, conversations={SENDER}).start()
    yield server
    server.stop()


def subscribed_change(db, clock, channel: str, sender: str) -> None:
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe(channel, sender, CODE)
    result_ready(clock, db)


def log_of(db) -> list[tuple]:
    return [(e["outcome"], e["attempt"], e["error"], e["state"]) for e in reversed(Outbox(db).log())]


def killed_during_send(worker) -> None:
    """Run one batch of a worker that dies in the channel call; the row stays claimed, its attempt started."""
    with pytest.raises(WorkerKilled):
        worker.run_once()


def zalo_pair(db, fake, clock, last_seen_ago: timedelta, *, sent_first: bool):
    def last_seen(user):
        return DAYTIME - last_seen_ago

    first = dying(zalo_worker(db, fake, clock, last_seen=last_seen, worker_id="w1"), sent_first=sent_first)
    return first, zalo_worker(db, fake, clock, last_seen=last_seen, worker_id="w2")


def zalo_received(fake) -> int:
    return len(fake.delivered(USER)) + len(fake.transactions(USER))


@pytest.mark.parametrize("last_seen_ago, path", [(INSIDE_WINDOW, SEND_PATH), (OUTSIDE_WINDOW, TRANSACTION_PATH)])
def test_zalo_message_sent_by_a_worker_that_died_is_reconciled_not_resent(db, clock, fake, last_seen_ago, path):
    subscribed_change(db, clock, "zalo", USER)
    first, second = zalo_pair(db, fake, clock, last_seen_ago, sent_first=True)
    killed_during_send(first)
    assert len(fake.calls(path)) == 1
    assert Outbox(db).counts() == {"sending": 1}
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert second.run_once() == 0  # the dead worker's lease still runs
    clock.advance(seconds=2)
    assert second.run_once() == 1
    assert len(fake.calls(path)) == 1 and zalo_received(fake) == 1
    [history_read] = fake.calls(CONVERSATION_PATH)
    query = json.loads(parse_qs(history_read.body.decode())["data"][0])
    assert query == {"user_id": int(USER), "offset": 0, "count": 10}
    assert history_read.headers["access_token"] == fake.access_token
    assert log_of(db) == [("reconciled", 1, None, "sent")]
    assert Outbox(db).counts() == {"sent": 1}
    clock.advance(hours=1)
    assert second.run_once() == 0


def test_zalo_message_not_sent_before_the_worker_died_is_sent_once(db, clock, fake):
    subscribed_change(db, clock, "zalo", USER)
    first, second = zalo_pair(db, fake, clock, INSIDE_WINDOW, sent_first=False)
    killed_during_send(first)
    assert fake.calls(SEND_PATH) == []
    clock.advance(seconds=121)
    assert second.run_once() == 1
    assert fake.delivered(USER) == [EXPECTED_TEXT]
    assert len(fake.calls(CONVERSATION_PATH)) == 1
    assert log_of(db) == [("interrupted", 1, INTERRUPTED_NOT_DELIVERED, "sent"), ("sent", 2, None, "sent")]


def test_zalo_history_unavailable_sends_again_and_logs_it(db, clock, fake):
    subscribed_change(db, clock, "zalo", USER)
    first, second = zalo_pair(db, fake, clock, INSIDE_WINDOW, sent_first=True)
    killed_during_send(first)
    fake.history_status = 503
    clock.advance(seconds=121)
    assert second.run_once() == 1
    assert fake.delivered(USER) == [EXPECTED_TEXT, EXPECTED_TEXT]  # at-least-once: the channel could not tell
    assert log_of(db) == [("interrupted", 1, INTERRUPTED_UNKNOWN, "sent"), ("sent", 2, None, "sent")]


def web_pair(db, rasa, clock, *, sent_first: bool):
    first = dying(web_worker(db, rasa.url, SECRET, clock, worker_id="w1"), sent_first=sent_first)
    return first, web_worker(db, rasa.url, SECRET, clock, worker_id="w2")


def pushes(rasa) -> list[dict]:
    return [c for c in rasa.calls if c["path"].endswith("/tracker/events")]


def test_web_chat_message_pushed_by_a_worker_that_died_is_reconciled_not_resent(db, clock, rasa):
    subscribed_change(db, clock, "rest", SENDER)
    first, second = web_pair(db, rasa, clock, sent_first=True)
    killed_during_send(first)
    [push] = pushes(rasa)
    assert push["body"][0]["metadata"] == {"pushed": True, "notification": True, "notification_id": 1}
    clock.advance(seconds=121)
    assert second.run_once() == 1
    assert pushes(rasa) == [push]
    assert rasa.reads[-1] == f"/conversations/{SENDER}/tracker"
    assert log_of(db) == [("reconciled", 1, None, "sent")]


def test_web_chat_message_not_pushed_before_the_worker_died_is_pushed_once(db, clock, rasa):
    subscribed_change(db, clock, "rest", SENDER)
    first, second = web_pair(db, rasa, clock, sent_first=False)
    killed_during_send(first)
    assert pushes(rasa) == []
    clock.advance(seconds=121)
    assert second.run_once() == 1
    [push] = pushes(rasa)
    assert push["body"][0]["text"] == EXPECTED_TEXT
    assert log_of(db) == [("interrupted", 1, INTERRUPTED_NOT_DELIVERED, "sent"), ("sent", 2, None, "sent")]


def test_rasa_unreachable_for_the_check_sends_again_and_logs_it(db, clock, rasa):
    subscribed_change(db, clock, "rest", SENDER)
    first, second = web_pair(db, rasa, clock, sent_first=True)
    killed_during_send(first)
    rasa.fail, rasa.fail_status = True, 503
    clock.advance(seconds=121)
    assert second.run_once() == 1  # cannot tell, and the push fails too: retried after the backoff
    rasa.fail = False
    clock.advance(seconds=59)
    assert second.run_once() == 0  # the interrupted attempt counts: the backoff after attempt 2 is 60 s
    clock.advance(seconds=1)
    assert second.run_once() == 1
    assert len(pushes(rasa)) == 2  # the dead worker's and the retry's (a second one: the check could not tell)
    assert log_of(db) == [("interrupted", 1, INTERRUPTED_UNKNOWN, "sent"),
                          ("retry", 2, "Rasa answered HTTP 503", "sent"), ("sent", 3, None, "sent")]


def test_a_worker_whose_lease_ran_out_does_not_send(db, clock, fake):
    subscribed_change(db, clock, "zalo", USER)
    slow = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME, worker_id="slow")
    other = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME, worker_id="other")
    [item] = slow.outbox.claim(slow.worker_id)
    clock.advance(seconds=121)
    assert other.run_once() == 1
    assert slow.handle(item) == "lost"
    assert fake.delivered(USER) == [EXPECTED_TEXT]
    assert log_of(db) == [("sent", 1, None, "sent")]


def history_notifier(fake, clock) -> ZaloNotifier:
    return ZaloNotifier(fake.url, lambda: fake.access_token, lambda user: clock.now, cs_window=timedelta(hours=48),
                        clock=clock)


def test_zalo_check_reads_back_page_by_page_to_the_interrupted_attempt(clock, fake):
    sub = Subscription(1, "zalo", USER, CODE, DAYTIME)
    notifier = history_notifier(fake, clock)
    assert notifier.deliver(sub, "Chào bạn, hồ sơ của bạn đã được tiếp nhận.", 1).ok
    clock.advance(minutes=10)
    started = clock.now
    assert notifier.deliver(sub, EXPECTED_TEXT, 2).ok
    for n in range(24):  # 24 later messages: the notification is on the third page
        fake.oa_sent(USER, f"Cán bộ trả lời câu hỏi số {n + 1}.")
    assert notifier.already_delivered(sub, EXPECTED_TEXT, 2, started) is True
    assert [json.loads(parse_qs(r.body.decode())["data"][0])["offset"] for r in fake.calls(CONVERSATION_PATH)] == [
        0, 10, 20]
    assert notifier.already_delivered(sub, "Hồ sơ H07.02-******-0003 cần bổ sung giấy tờ.", 3, started) is False
    assert len(fake.calls(CONVERSATION_PATH)) == 6  # three pages, back to the message before the attempt


def test_zalo_check_cannot_tell_past_an_unreadable_oa_message(clock, fake):
    sub = Subscription(1, "zalo", USER, CODE, DAYTIME)
    started = clock.now
    fake.oa_sent(USER, "", "template")  # a template message whose content the history does not show
    assert history_notifier(fake, clock).already_delivered(sub, EXPECTED_TEXT, 1, started) is None
