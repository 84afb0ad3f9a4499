"""The console's status change (CSRF, audit, notifications queued) and the delivery log (issue 17)."""

from __future__ import annotations

import pytest

from core.notifications.subscriptions import Subscriptions
from tests.fakes.staff_servers import APP_CODE, console_server, logged_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from console_server(tmp_path_factory.mktemp("notify_console"))


def test_status_change_needs_csrf_is_audited_and_queues_notifications(env):
    Subscriptions(env["db"]).subscribe("zalo", "1000000000000000001", APP_CODE)
    client = logged_in(env, "lan")
    forged = client.post(f"/api/status/{APP_CODE}", {"status": "Đã có kết quả"}, csrf="sai")
    assert forged.status_code == 403
    bad = client.post(f"/api/status/{APP_CODE}", {"status": "Xong"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("Trạng thái mới không hợp lệ.")
    done = client.post(f"/api/status/{APP_CODE}", {"status": "Đã có kết quả", "note": "Đã ký"})
    assert done.status_code == 200, done.text
    assert (done.json()["application"]["status"], done.json()["notifications_queued"]) == ("Đã có kết quả", 1)
    with env["db"].read() as conn:
        audit = conn.all("SELECT staff, subject, detail FROM console_audit WHERE action = 'status_change' "
                         "ORDER BY id")
    assert [(a["staff"], a["subject"], a["detail"]) for a in audit] == [
        ("lan", "H07.99-******-0012", "refused 400"),
        ("lan", "H07.99-******-0012", "-> Đã có kết quả, 1 notifications")]
    log = client.get("/api/notifications/log")
    assert log.status_code == 200 and log.json() == {"log": [], "outbox": {"pending": 1}}
    assert client.get("/api/notifications/log?limit=0").status_code == 400
    assert APP_CODE not in env["log"].read_text()
