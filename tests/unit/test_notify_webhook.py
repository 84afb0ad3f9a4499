"""The one-stop system's signed status webhook on the staff API, the staff API's status change, and the polling
fallback against the fake one-stop server (issue 17)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from core.db import VN_TZ
from core.notifications.outbox import Outbox
from core.notifications.subscriptions import Subscriptions
from core.notifications.webhook import StatusWebhook, poll_statuses, sign
from core.status.http import HttpStatusBackend
from core.status.models import NEEDS_DOCUMENTS, RESULT_READY
from tests.fakes.notifications import CODE, HOTLINE, Clock, seed_application
from tests.fakes.one_stop_server import FakeOneStopServer, send_webhook
from tests.fakes.staff_servers import STAFF_TOKEN, WEBHOOK_SECRET, staff_api_server
from tests.fakes.status import at, make_app

USER = "1000000000000000001"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from staff_api_server(tmp_path_factory.mktemp("notify"))


@pytest.fixture(scope="module")
def one_stop():
    with FakeOneStopServer(token="one-stop-token") as server:
        server.add(make_app("Đang xử lý"), "0912345678", "001099001234")
        yield server


def queued(db) -> list[dict]:
    with db.read() as conn:
        return conn.all("SELECT event_id, channel, sender_id, text FROM notification_outbox ORDER BY id")


def test_signed_event_queues_notifications_and_a_replay_is_ignored(env, one_stop):
    Subscriptions(env["db"]).subscribe("zalo", USER, CODE)
    event = one_stop.set_status(CODE, RESULT_READY, at(24, 10), result_pickup="Bộ phận Một cửa UBND phường Võ Cường")
    url = env["base"] + "/events/status"
    assert send_webhook(url, WEBHOOK_SECRET, event) == (200, {"status": "accepted", "queued": 1})
    assert send_webhook(url, WEBHOOK_SECRET, event) == (200, {"status": "duplicate"})
    rows = [r for r in queued(env["db"]) if r["event_id"] == event["event_id"]]
    assert [(r["channel"], r["sender_id"]) for r in rows] == [("zalo", USER)]
    assert rows[0]["text"].startswith("Hồ sơ H07.02-******-0003 (Đăng ký khai sinh) đã chuyển từ “Đang xử lý” sang "
                                      "“Đã có kết quả” lúc 10:00 ngày 24/11/2025.\nKết quả đã sẵn sàng.")


@pytest.mark.parametrize("how", ["forged", "wrong_secret", "stale", "unsigned"])
def test_forged_or_stale_event_is_refused_with_401(env, one_stop, how):
    event = one_stop.set_status(CODE, NEEDS_DOCUMENTS, at(24, 11), missing_documents=["Bản sao giấy chứng sinh"])
    url = env["base"] + "/events/status"
    before = len(queued(env["db"]))
    if how == "forged":
        status, answer = send_webhook(url, WEBHOOK_SECRET, event, signature="sha256=" + "0" * 64)
    elif how == "wrong_secret":
        status, answer = send_webhook(url, "not-the-secret", event)
    elif how == "stale":
        status, answer = send_webhook(url, WEBHOOK_SECRET, event, timestamp=int(time.time()) - 301)
    else:
        raw = b'{"event_id": "x"}'
        status = requests.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=10).status_code
        answer = {"message": "Chữ ký hoặc thời điểm gửi không hợp lệ."}
    assert (status, answer["message"]) == (401, "Chữ ký hoặc thời điểm gửi không hợp lệ.")
    assert len(queued(env["db"])) == before


def test_signed_but_malformed_event_gets_a_vietnamese_400(env):
    status, answer = send_webhook(env["base"] + "/events/status", WEBHOOK_SECRET,
                                  {"event_id": "evt-bad", "code": CODE, "status": "Xong"})
    assert status == 400 and answer["message"].startswith("Trạng thái mới không hợp lệ.")


def test_staff_api_status_change_needs_the_token_and_queues_notifications(env):
    seed_application(env["db"])
    Subscriptions(env["db"]).subscribe("rest", "web-42", CODE)
    subscribers = len(Subscriptions(env["db"]).for_code(CODE))
    url = env["base"] + f"/api/status/{CODE}"
    assert requests.post(url, json={"status": RESULT_READY}, timeout=10).status_code == 401
    headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    bad = requests.post(url, json={"status": "Xong"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json()["message"].startswith("Trạng thái mới không hợp lệ.")
    done = requests.post(url, json={"status": RESULT_READY, "note": "Đã ký"}, headers=headers, timeout=10)
    assert done.status_code == 200, done.text
    assert done.json()["application"]["status"] == RESULT_READY
    assert done.json()["notifications_queued"] == subscribers
    assert ("rest", "web-42") in [(r["channel"], r["sender_id"]) for r in queued(env["db"])]


def test_webhook_handler_refuses_without_a_secret(db):
    webhook = StatusWebhook(db, "", HOTLINE)
    raw = b"{}"
    assert webhook.handle(raw, "1", sign("", "1", raw))[0] == 503


def test_polling_records_a_change_once_and_only_after_a_baseline(db):
    clock = Clock(datetime(2025, 11, 24, 10, tzinfo=VN_TZ))
    Subscriptions(db, clock=clock).subscribe("zalo", USER, CODE)
    with FakeOneStopServer(token="t") as server:
        server.add(make_app("Đang xử lý"), "0912345678", "001099001234")
        backend = HttpStatusBackend(server.url, token="t")
        assert poll_statuses(db, [CODE, "H07.02-251120-0999"], backend.statuses, hotline=HOTLINE, clock=clock) == 0
        server.set_status(CODE, RESULT_READY, at(24, 10))
        assert poll_statuses(db, [CODE], backend.statuses, hotline=HOTLINE, clock=clock) == 1
        assert poll_statuses(db, [CODE], backend.statuses, hotline=HOTLINE, clock=clock) == 0
        assert server.requests[-1]["headers"]["Authorization"] == "Bearer t"
    assert Outbox(db).counts() == {"pending": 1}
    [row] = queued(db)
    assert "đã chuyển từ “Đang xử lý” sang “Đã có kết quả”" in row["text"]
