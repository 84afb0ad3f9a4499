"""Status-change events, the outbox and the delivery worker (issue 17), on SQLite and PostgreSQL, delivering
through the fake Zalo OA server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.notifications.events import StatusChangeError, StatusUpdate, change_application_status
from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscriptions
from core.notifications.worker import WorkerRules
from core.status.models import NEEDS_DOCUMENTS, PROCESSING, RESULT_READY
from core.status.sql import SqlStatusBackend
from tests.fakes.notifications import (
    CODE,
    DAYTIME,
    EXPECTED_TEXT,
    HOTLINE,
    Clock,
    result_ready,
    seed_application,
    zalo_worker,
)
from tests.fakes.status import at
from tests.fakes.zalo_api_server import SEND_PATH, TRANSACTION_PATH

USER = "1000000000000000001"
def test_status_change_updates_application_and_queues_one_row_per_subscriber(db, clock):
    seed_application(db)
    subs = Subscriptions(db, clock=clock)
    subs.subscribe("zalo", USER, CODE)
    subs.subscribe("rest", "web-1", CODE)
    subs.subscribe("zalo", "someone-else", "H07.02-251120-0009")
    result_ready(clock, db)
    app = SqlStatusBackend(db).lookup_trusted(CODE)
    assert (app.status, app.status_since, app.history[-1].note) == (RESULT_READY, DAYTIME, "Đã ký giấy khai sinh")
    with db.read() as conn:
        rows = conn.all("SELECT channel, sender_id, text, state FROM notification_outbox ORDER BY id")
    assert [(r["channel"], r["sender_id"], r["state"]) for r in rows] == [("zalo", USER, "pending"),
                                                                         ("rest", "web-1", "pending")]
    assert rows[0]["text"] == EXPECTED_TEXT
    assert "Nguyễn" not in rows[0]["text"] and "251120" not in rows[0]["text"]


def test_failing_outbox_insert_rolls_the_status_change_back(db, clock):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    with db.transaction() as conn:  # the outbox table disappears: the insert into it must fail
        conn.execute("ALTER TABLE notification_outbox RENAME TO notification_outbox_gone")
    with pytest.raises(Exception):
        result_ready(clock, db)
    app = SqlStatusBackend(db).lookup_trusted(CODE)
    assert app.status == PROCESSING and len(app.history) == 1
    with db.read() as conn:
        assert conn.one("SELECT COUNT(*) AS n FROM status_change_events")["n"] == 0


@pytest.mark.parametrize("body, message", [
    ({"status": "Xong rồi"}, "Trạng thái mới không hợp lệ."),
    ({"status": "Từ chối"}, "Khi từ chối hồ sơ cần ghi lý do từ chối"),
    ({"status": NEEDS_DOCUMENTS, "missing_documents": "bản sao sổ hộ khẩu"}, "Danh sách giấy tờ cần bổ sung"),
])
def test_bad_updates_get_vietnamese_messages(body, message):
    with pytest.raises(StatusChangeError) as err:
        StatusUpdate.from_request(body)
    assert err.value.message.startswith(message)


def test_unknown_code_and_unchanged_status_are_refused(db, clock):
    seed_application(db)
    with pytest.raises(StatusChangeError) as err:
        change_application_status(db, "H07.02-251120-0999", StatusUpdate(RESULT_READY), hotline=HOTLINE, clock=clock)
    assert (err.value.status, err.value.message) == (404, "Không có hồ sơ với mã này.")
    with pytest.raises(StatusChangeError) as err:
        change_application_status(db, CODE, StatusUpdate(PROCESSING), hotline=HOTLINE, clock=clock)
    assert err.value.message == "Hồ sơ đang ở trạng thái “Đang xử lý”, không có gì thay đổi."


def test_worker_delivers_once_as_consultation_message_inside_the_window(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME - timedelta(hours=3))
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert fake.delivered(USER) == [EXPECTED_TEXT]
    assert fake.calls(TRANSACTION_PATH) == []
    [entry] = Outbox(db).log()
    assert (entry["outcome"], entry["route"], entry["code"], entry["attempt"]) == ("sent", "cs", "H07.02-******-0003",
                                                                                   1)


def test_outside_the_window_the_transaction_template_api_is_used(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME - timedelta(days=3))
    worker.run_once()
    assert fake.calls(SEND_PATH) == []
    [call] = fake.calls(TRANSACTION_PATH)
    assert call.headers["access_token"] == fake.access_token
    payload = call.json["message"]["attachment"]["payload"]
    assert call.json["recipient"] == {"user_id": USER}
    assert payload["template_type"] == "transaction_order"
    assert payload["elements"][1] == {"type": "text", "content": EXPECTED_TEXT, "align": "left"}
    assert payload["elements"][2]["content"] == [{"key": "Mã hồ sơ", "value": "H07.02-******-0003"}]
    assert payload["buttons"] == [{"title": "Hủy thông báo", "type": "oa.query.show", "payload": "hủy thông báo"}]
    assert fake.transactions(USER) == [payload]


def test_zalo_outage_is_retried_with_exponential_backoff_then_delivered(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    fake.outage(2, status=503)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME,
                         rules=WorkerRules(backoff_s=30, max_attempts=5))
    assert worker.run_once() == 1  # attempt 1: 503, retry in 30 s
    assert worker.run_once() == 0  # not due yet
    clock.advance(seconds=30)
    assert worker.run_once() == 1  # attempt 2: 503, retry in 60 s
    clock.advance(seconds=59)
    assert worker.run_once() == 0
    clock.advance(seconds=1)
    assert worker.run_once() == 1  # attempt 3: delivered
    assert fake.delivered(USER) == [EXPECTED_TEXT]
    log = list(reversed(Outbox(db).log()))
    assert [(e["outcome"], e["attempt"]) for e in log] == [("retry", 1), ("retry", 2), ("sent", 3)]
    assert log[0]["error"] == "Zalo API HTTP 503"


def test_permanent_zalo_error_gives_up_at_once(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    fake.fail_next(-213, "User has not followed OA")
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME)
    worker.run_once()
    clock.advance(hours=2)
    assert worker.run_once() == 0
    assert Outbox(db).counts() == {"failed": 1}
    assert Outbox(db).log()[0]["error"] == "Zalo error -213: User has not followed OA"


def test_quiet_hours_hold_until_seven_in_the_morning(db, fake):
    clock = Clock(at(24, 22))  # 22:00
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: clock.now)
    assert worker.run_once() == 1
    assert fake.delivered() == []
    assert Outbox(db).log()[0]["outcome"] == "held"
    clock.now = at(25, 6) + timedelta(minutes=59)
    assert worker.run_once() == 0
    clock.now = at(25, 7)
    assert worker.run_once() == 1
    assert len(fake.delivered(USER)) == 1


def test_quiet_hours_turned_off_deliver_at_night(db, fake):
    clock = Clock(at(24, 22))  # 22:00
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: clock.now, rules=WorkerRules(quiet_hours=False))
    assert worker.run_once() == 1
    assert len(fake.delivered(USER)) == 1
    assert Outbox(db).counts() == {"sent": 1}


def test_rate_limit_holds_the_extra_notifications_of_one_citizen(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: clock.now,
                         rules=WorkerRules(rate_limit_count=2, rate_limit_window_s=3600))
    for status in (RESULT_READY, PROCESSING, RESULT_READY):
        change_application_status(db, CODE, StatusUpdate(status), hotline=HOTLINE, clock=clock)
        clock.advance(minutes=1)
    sent_at = clock.now
    worker.run_once()
    assert len(fake.delivered(USER)) == 2
    assert Outbox(db).log()[0]["outcome"] == "held"
    clock.now = sent_at + timedelta(minutes=59)
    assert worker.run_once() == 0
    clock.now = sent_at + timedelta(hours=1)  # the first two leave the window
    assert worker.run_once() == 1
    assert len(fake.delivered(USER)) == 3


def test_unsubscribed_after_the_change_is_not_notified(db, clock, fake):
    seed_application(db)
    subs = Subscriptions(db, clock=clock)
    subs.subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    subs.unsubscribe("zalo", USER)
    zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME).run_once()
    assert fake.delivered() == []
    assert Outbox(db).log()[0]["outcome"] == "cancelled"


def test_two_workers_never_deliver_the_same_change_twice(db, clock, fake):
    seed_application(db)
    subs = Subscriptions(db, clock=clock)
    users = [f"10000000000000{i:05d}" for i in range(40)]
    for user in users:
        subs.subscribe("zalo", user, CODE)
    result_ready(clock, db)
    workers = [zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME, worker_id=f"w{i}",
                           rules=WorkerRules(rate_limit_count=100)) for i in range(2)]
    start = threading.Barrier(2)

    def drain(worker) -> None:
        start.wait()
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    delivered = [c.json["recipient"]["user_id"] for c in fake.calls(SEND_PATH)]
    assert sorted(delivered) == sorted(users)
    assert Outbox(db).counts() == {"sent": 40}


def test_retention_masks_finished_notifications_and_keeps_pending_ones(db, clock, fake, tmp_path):
    from console.retention import RetentionJob

    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    result_ready(clock, db)
    zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME).run_once()
    clock.advance(days=40)
    change_application_status(db, CODE, StatusUpdate(PROCESSING), hotline=HOTLINE, clock=clock)  # still pending
    later = (clock.now + timedelta(days=1)).timestamp()
    report = RetentionJob(tmp_path / "no-tracker.db", db, clock=lambda: later).run()
    assert report.notifications_redacted == 1 and report.errors == []
    with db.read() as conn:
        rows = conn.all("SELECT state, sender_id, code, text FROM notification_outbox ORDER BY id")
        events = [r["code"] for r in conn.all("SELECT code FROM status_change_events ORDER BY received_at")]
    assert rows[0]["state"] == "sent" and rows[0]["code"] == "H07.02-******-0003"
    assert rows[0]["sender_id"].startswith("h:") and USER not in rows[0]["sender_id"]
    assert (rows[1]["state"], rows[1]["sender_id"], rows[1]["code"]) == ("pending", USER, CODE)
    assert events == ["H07.02-******-0003", CODE]
    assert Outbox(db).log()[0]["code"] == "H07.02-******-0003"


def test_tracker_store_tells_when_a_sender_last_wrote(tmp_path):
    import sqlite3

    from core.tracker_db import TrackerDb

    path = tmp_path / "tracker.db"
    assert TrackerDb(path).last_user_message_at(USER) is None  # no store yet
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL, "
                     "intent_name TEXT, action_name TEXT, data TEXT)")
        conn.executemany("INSERT INTO events (sender_id, type_name, timestamp) VALUES (?, ?, ?)",
                         [(USER, "user", 100.0), (USER, "bot", 300.0), (USER, "user", 200.0), ("other", "user", 900.0)])
    assert TrackerDb(path).last_user_message_at(USER) == 200.0
    assert TrackerDb(path).last_user_message_at("nobody") is None


def test_channel_without_notifier_is_held_not_dropped(db, clock, fake):
    seed_application(db)
    Subscriptions(db, clock=clock).subscribe("rest", "web-7", CODE)
    result_ready(clock, db)
    worker = zalo_worker(db, fake, clock, last_seen=lambda user: DAYTIME)
    assert worker.run_once() == 1
    [entry] = Outbox(db).log()
    assert (entry["outcome"], entry["error"], entry["state"]) == ("held", "no notifier for channel rest", "pending")
    clock.advance(seconds=3599)
    assert worker.run_once() == 0
