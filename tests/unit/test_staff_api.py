"""The staff API as a real process (python -m staff_api) against a fake Rasa that records calls."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
import requests

from console.auth import AccountStore
from core.db import VN_TZ, Database
from core.feedback import FeedbackStore
from core.handoff import HandoffStore
from staff_api.app import create_app
from tests.fakes.processes import ROOT, free_port
from tests.fakes.staff_servers import STAFF_TOKEN as TOKEN
from tests.fakes.staff_servers import TRANSCRIPT, staff_api_server


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from staff_api_server(tmp_path_factory.mktemp("staff"))


def auth(staff: str | None = None, token: str = TOKEN) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if staff:
        headers["X-Staff"] = staff
    return headers


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sai-ma"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
def test_requires_token(env, headers):
    for method, path in (("get", "/api/handoffs"), ("get", "/api/handoffs/HT-251127-0001"),
                         ("post", "/api/handoffs/HT-251127-0001/reply"), ("post", "/api/handoffs/HT-251127-0001/close"),
                         ("get", "/api/feedback")):
        response = getattr(requests, method)(env["base"] + path, headers=headers, json={"text": "x"}, timeout=5)
        assert response.status_code == 401
        assert response.json()["message"] == "Thiếu hoặc sai mã truy cập."


def test_list_read_reply_close(env):
    store = HandoffStore(env["db"], clock=lambda: datetime(2025, 11, 27, 9, 1, tzinfo=VN_TZ))
    ticket = store.open_ticket("web-0912", "socketio", TRANSCRIPT, "user_request")
    base, rasa = env["base"], env["rasa"]

    listed = requests.get(base + "/api/handoffs", headers=auth(), timeout=5).json()["tickets"]
    assert [t["id"] for t in listed] == [ticket.id]
    assert listed[0]["last_user_message"] == "Tôi muốn gặp cán bộ"

    full = requests.get(base + f"/api/handoffs/{ticket.id}", headers=auth(), timeout=5).json()
    assert full["transcript"] == TRANSCRIPT and full["channel"] == "socketio"

    rasa.calls.clear()
    # The officer's own token: the reply is recorded under her account, whatever name the body claims.
    answer = requests.post(base + f"/api/handoffs/{ticket.id}/reply", headers=auth(token=env["officer_token"]),
                           json={"text": "Chào ông, tôi là cán bộ Bộ phận Một cửa.", "staff": "Giám đốc Sở"},
                           timeout=5)
    assert answer.status_code == 201 and answer.json()["delivery"] == "sent"
    assert rasa.calls == [{"path": "/conversations/web-0912/execute",
                           "query": {"output_channel": "socketio"},
                           "body": {"name": "action_deliver_staff_reply"}}]
    pending = store.pending_replies("web-0912")  # the Rasa action marks them delivered, not the API
    assert [(r.text, r.staff) for r in pending] == [("Chào ông, tôi là cán bộ Bộ phận Một cửa.", "hoa")]
    assert answer.json()["reply"]["staff"] == "hoa"

    rasa.calls.clear()
    staff_header = auth("Nguy%E1%BB%85n%20Th%E1%BB%8B%20Hoa", token=env["officer_token"])  # a forged X-Staff
    closed = requests.post(base + f"/api/handoffs/{ticket.id}/close", headers=staff_header, timeout=5)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == "hoa"
    assert rasa.calls == [{"path": "/conversations/web-0912/tracker/events", "query": {},
                           "body": [{"event": "resume"}, {"event": "action", "name": "action_listen"}]}]
    assert requests.get(base + "/api/handoffs", headers=auth(), timeout=5).json()["tickets"] == []
    again = requests.post(base + f"/api/handoffs/{ticket.id}/close", headers=auth(), timeout=5)
    assert again.status_code == 409


def test_reply_stored_even_when_rasa_is_down(env):
    store = HandoffStore(env["db"])
    ticket = store.open_ticket("web-down", "rest", TRANSCRIPT, "fallback")
    env["rasa"].fail = True
    try:
        answer = requests.post(env["base"] + f"/api/handoffs/{ticket.id}/reply", headers=auth(),
                               json={"text": "Chúng tôi đã nhận yêu cầu."}, timeout=5)
        assert answer.status_code == 202 and answer.json()["delivery"] == "pending"
        assert [r.text for r in store.pending_replies("web-down")] == ["Chúng tôi đã nhận yêu cầu."]
        refused = requests.post(env["base"] + f"/api/handoffs/{ticket.id}/close", headers=auth(), timeout=5)
        assert refused.status_code == 502
        assert store.get(ticket.id).status == "open"  # not closed while the conversation stays paused
    finally:
        env["rasa"].fail = False
    assert requests.post(env["base"] + f"/api/handoffs/{ticket.id}/deliver", headers=auth(), timeout=5).status_code \
        == 200


def test_bad_requests(env):
    base = env["base"]
    assert requests.get(base + "/api/handoffs/HT-000000-0000", headers=auth(), timeout=5).status_code == 404
    missing = requests.post(base + "/api/handoffs/HT-000000-0000/reply", headers=auth(), json={"text": "x"},
                            timeout=5)
    assert missing.status_code == 404
    empty = requests.post(base + "/api/handoffs/HT-000000-0000/reply", headers=auth(), json={}, timeout=5)
    assert empty.status_code == 400 and "text" in empty.json()["message"]


def test_feedback_status(env):
    report = FeedbackStore(env["db"]).create("môi trường", "Bãi rác tự phát cạnh kênh", "xã Tiên Du", None, False,
                                             "web-5", "rest")
    url = env["base"] + f"/api/feedback/{report.code}"
    assert requests.get(url, headers=auth(), timeout=5).json()["content"] == "Bãi rác tự phát cạnh kênh"
    body = {"status": "Đang xử lý", "note": "Đã chuyển UBND xã Tiên Du", "staff": "Trần Văn Nam"}
    changed = requests.post(url + "/status", headers=auth(), json=body, timeout=5).json()
    assert changed["status"] == "Đang xử lý"
    # The shared token is an integration, not an officer: its changes are recorded as "staff_api".
    assert changed["history"][-1] | {"at": None} == {"status": "Đang xử lý", "note": "Đã chuyển UBND xã Tiên Du",
                                                     "staff": "staff_api", "at": None}
    bad = requests.post(url + "/status", headers=auth(), json={"status": "Xong rồi"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["message"].startswith("Trạng thái không hợp lệ")
    # A note must be text (the same check as the console's).
    odd_note = requests.post(url + "/status", headers=auth(), json={"status": "Đã xử lý", "note": 5}, timeout=5)
    assert odd_note.status_code == 400 and "note" in odd_note.json()["message"]
    assert FeedbackStore(env["db"]).get(report.code).status == "Đang xử lý"
    listed = requests.get(env["base"] + "/api/feedback?status=Đang xử lý", headers=auth(), timeout=5).json()
    assert [r["code"] for r in listed["reports"]] == [report.code]


def test_revoked_or_disabled_officer_tokens_are_refused(env):
    accounts = AccountStore(env["db"])
    accounts.add_user("nam", "mat-khau-can-bo-2025", "officer", must_change_password=False)
    first = accounts.issue_api_token("nam")
    second = accounts.issue_api_token("nam")  # a new token replaces the old one
    url = env["base"] + "/api/handoffs"
    assert requests.get(url, headers=auth(token=first), timeout=5).status_code == 401
    assert requests.get(url, headers=auth(token=second), timeout=5).status_code == 200
    accounts.revoke_api_tokens("nam")
    assert requests.get(url, headers=auth(token=second), timeout=5).status_code == 401
    third = accounts.issue_api_token("nam")
    with env["db"].transaction() as conn:
        conn.execute("UPDATE console_users SET disabled = 1 WHERE name = ?", ("nam",))
    refused = requests.get(url, headers=auth(token=third), timeout=5)
    assert refused.status_code == 401 and refused.json()["message"] == "Thiếu hoặc sai mã truy cập."


def test_logs_mask_personal_data(env):
    text = env["log"].read_text(encoding="utf-8")
    assert "0912345678" not in text


def test_refuses_to_start_without_token(tmp_path):
    db = Database(str(tmp_path / "s.db"))
    with pytest.raises(ValueError, match="STAFF_API_TOKEN"):
        create_app(HandoffStore(db), FeedbackStore(db), None, "", name="staff_api_no_token")
    result = subprocess.run([sys.executable, "-m", "staff_api", "--port", str(free_port())], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "STAFF_API_TOKEN": "",
                                 "SERVICES_DB": str(tmp_path / "s.db")},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "STAFF_API_TOKEN" in result.stderr
