"""The help-desk console as a real process (python -m console) on a temporary SQLite database, a small index on
fake (hashing) vectors and a fake Rasa that records calls. The real-index search test runs in-process and is
skipped when models/kb-index is absent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from console.auth import AccountStore, AuditLog
from core.db import VN_TZ
from core.feedback import FeedbackStore
from tests.fakes.console_data import APP_CODE
from tests.fakes.processes import ROOT
from tests.fakes.staff_servers import (
    GET_ENDPOINTS,
    PASSWORD,
    POST_ENDPOINTS,
    TRANSCRIPT,
    Client,
    console_server,
    logged_in,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from console_server(tmp_path_factory.mktemp("console"))



def audit_entries(env, action: str) -> list[dict]:
    return [e.to_dict() for e in AuditLog(env["db"]).recent(action=action)]


def test_every_endpoint_needs_a_session(env):
    anonymous = requests.Session()
    for path in GET_ENDPOINTS:
        response = anonymous.get(env["base"] + path, timeout=10)
        assert response.status_code == 401, path
        assert response.json()["error"] == "unauthorized"
    for path in POST_ENDPOINTS:
        response = anonymous.post(env["base"] + path, json={}, headers={"X-CSRF-Token": "x"}, timeout=10)
        assert response.status_code == 401, path
    forged = requests.Session()
    forged.cookies.set("console_session", "not-a-real-token")
    assert forged.get(env["base"] + "/api/me", timeout=10).status_code == 401


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(env):
    client = Client(env["base"])
    response = client.login("lan")
    assert response.status_code == 200
    assert response.json()["user"] == {"name": "lan", "role": "officer", "must_change_password": False}
    cookie = response.headers["Set-Cookie"]
    assert "console_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == client.csrf
    assert client.post("/api/logout").status_code == 200
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("body", [{"name": "lan", "password": "sai-mat-khau-99"},
                                  {"name": "ai-do", "password": PASSWORD}, {"name": "lan"}, {}])
def test_wrong_credentials_are_refused(env, body):
    response = requests.post(env["base"] + "/api/login", json=body, timeout=10)
    assert response.status_code in (400, 401)
    assert "Set-Cookie" not in response.headers
    assert response.json()["message"]


def test_repeated_wrong_passwords_lock_the_name(env):
    for _ in range(5):
        assert Client(env["base"]).login("khoa", "sai-mat-khau-99").status_code == 401
    locked = Client(env["base"]).login("khoa")
    assert locked.status_code == 429 and "15 phút" in locked.json()["message"]
    assert Client(env["base"]).login("lan").status_code == 200  # other accounts are unaffected


def _login_from(env, source_ip: str, name: str, password: str, headers: dict | None = None) -> tuple[int, dict]:
    """POST /api/login from another loopback address (the console sees a different client)."""
    import http.client
    import json as json_module
    from urllib.parse import urlsplit

    url = urlsplit(env["base"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=(source_ip, 0))
    try:
        conn.request("POST", "/api/login", body=json_module.dumps({"name": name, "password": password}),
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, json_module.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_a_lock_from_one_client_does_not_lock_the_officer_out(env):
    """Issue 13, finding 7: five wrong passwords from one address lock that address only."""
    AccountStore(env["db"]).add_user("hoa", PASSWORD, "officer", must_change_password=False)
    for _ in range(5):
        assert _login_from(env, "127.0.0.3", "hoa", "sai-mat-khau-99")[0] == 401
    status, body = _login_from(env, "127.0.0.3", "hoa", PASSWORD)
    assert status == 429 and "15 phút" in body["message"]
    # A forwarded header claiming another address changes nothing: the console has no proxy in front.
    assert _login_from(env, "127.0.0.3", "hoa", PASSWORD, {"X-Forwarded-For": "10.1.2.3"})[0] == 429
    status, body = _login_from(env, "127.0.0.4", "hoa", PASSWORD)  # the officer at another desk
    assert status == 200 and body["user"]["name"] == "hoa"


def test_expired_session_is_refused(env):
    client = logged_in(env, "lan")
    assert client.get("/api/handoffs").status_code == 200
    with env["db"].transaction() as conn:
        conn.execute("UPDATE console_sessions SET expires_at = ? WHERE user_name = 'lan'",
                     (datetime.now(VN_TZ) - timedelta(seconds=1),))
    response = client.get("/api/handoffs")
    assert response.status_code == 401 and "hết hạn" in response.json()["message"]


@pytest.mark.parametrize("csrf", ["", "sai-ma-csrf"])
def test_state_changes_need_the_csrf_token(env, csrf):
    client = logged_in(env, "lan")
    response = client.post(f"/api/feedback/{env['feedback']}/status", {"status": "Đang xử lý"}, csrf=csrf)
    assert response.status_code == 403 and response.json()["error"] == "csrf"
    assert client.post("/api/logout", csrf=csrf).status_code == 403
    assert client.get("/api/me").status_code == 200  # still logged in


def test_analytics_is_for_supervisors(env):
    officer = logged_in(env, "lan")
    response = officer.get("/api/analytics")
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert officer.get("/api/audit").status_code == 403
    supervisor = logged_in(env, "minh")
    data = supervisor.get("/api/analytics?days=7").json()
    assert data["days"] == 7 and len(data["handoffs"]["per_day"]) == 7
    assert data["handoffs"]["open"] >= 1 and sum(data["feedback"]["by_status"].values()) >= 1
    assert data["satisfaction"]["count"] == 0 and data["satisfaction"]["average"] is None
    assert len(data["satisfaction"]["per_day"]) == 7
    assert len(data["conversations"]["per_day"]) == 7 and data["conversations"]["source_available"] is False
    csv = supervisor.get("/api/analytics?days=3&format=csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == ("day,conversations,answered,handed_off,abstained,user_messages,fallbacks,"
                                        "handoffs,feedback_reports,status_lookups,ratings,average_rating")
    assert csv.text.splitlines()[4] == ""  # header + 3 days, then the top lists
    assert supervisor.get("/api/analytics?days=abc").status_code == 400


def test_forced_password_change_blocks_everything_else(env):
    client = logged_in(env, "moi")
    assert client.get("/api/me").json()["user"]["must_change_password"] is True
    for path in ("/api/search?q=c%C4%83n+c%C6%B0%E1%BB%9Bc", "/api/handoffs", f"/api/status/{APP_CODE}"):
        response = client.get(path)
        assert response.status_code == 403 and response.json()["error"] == "password_change_required", path
    other = logged_in(env, "moi")  # a second browser of the same officer
    refused = client.post("/api/password", {"current_password": PASSWORD, "new_password": "ngan"})
    assert refused.status_code == 400 and "ít nhất 10" in refused.json()["message"]
    wrong = client.post("/api/password", {"current_password": "sai-mat-khau-1", "new_password": "mat-khau-moi-2025"})
    assert wrong.status_code == 400
    changed = client.post("/api/password", {"current_password": PASSWORD, "new_password": "mat-khau-moi-2025"})
    assert changed.status_code == 200
    assert client.get("/api/handoffs").status_code == 200
    assert other.get("/api/me").status_code == 401  # the other sessions ended with the change
    assert Client(env["base"]).login("moi").status_code == 401
    assert Client(env["base"]).login("moi", "mat-khau-moi-2025").status_code == 200


def test_status_lookup_without_factor_is_audited(env):
    client = logged_in(env, "lan")
    response = client.get(f"/api/status/{APP_CODE.lower()}")
    assert response.status_code == 200
    application = response.json()["application"]
    assert application["code"] == APP_CODE and application["status"] == "Đang xử lý"
    assert response.json()["statuses"] == ["Đã tiếp nhận", "Đang xử lý", "Chờ bổ sung hồ sơ", "Đã có kết quả",
                                           "Đã trả kết quả", "Quá hạn", "Từ chối"]
    assert client.get("/api/status/H07.99-251120-9999").status_code == 404
    bad = client.get("/api/status/khong-phai-ma")
    assert bad.status_code == 400 and "Mã hồ sơ" in bad.json()["message"]
    entries = audit_entries(env, "status_lookup")
    assert [(e["staff"], e["subject"], e["detail"]) for e in entries[:3]] == [
        ("lan", "kho******i-ma", "refused 400"),
        ("lan", "H07.99-******-9999", "not_found"),
        ("lan", "H07.99-******-0012", "found"),
    ]
    assert APP_CODE not in env["log"].read_text()


def test_feedback_list_read_and_status_change_are_audited(env):
    client = logged_in(env, "lan")
    code = env["feedback"]
    reports = client.get("/api/feedback").json()["reports"]
    assert [r["code"] for r in reports] == [code]
    assert client.get(f"/api/feedback/{code}").json()["status"] == "Đã tiếp nhận"
    changed = client.post(f"/api/feedback/{code}/status", {"status": "Đang xử lý", "note": "Đã báo đội điện"})
    assert changed.status_code == 200
    last = changed.json()["history"][-1]
    assert (last["status"], last["note"], last["staff"]) == ("Đang xử lý", "Đã báo đội điện", "lan")
    assert client.post(f"/api/feedback/{code}/status", {"status": "Lung tung"}).status_code == 400
    assert client.post("/api/feedback/PA-000000-0000/status", {"status": "Đã xử lý"}).status_code == 404
    assert FeedbackStore(env["db"]).get(code).status == "Đang xử lý"  # what the citizen sees when checking
    masked = "PA-*******" + code[-4:]  # the audit keeps the prefix and the sequence number
    assert [(e["staff"], e["subject"], e["detail"]) for e in audit_entries(env, "feedback_status")] == [
        ("lan", masked, "-> Đang xử lý")]
    assert audit_entries(env, "feedback_read")[0]["subject"] == masked
    assert audit_entries(env, "feedback_list")[0]["detail"] == "1 reports"


def test_handoff_inbox_reply_and_close(env):
    client = logged_in(env, "lan")
    ticket_id = env["ticket"]
    tickets = client.get("/api/handoffs").json()["tickets"]
    assert [t["id"] for t in tickets] == [ticket_id]
    assert tickets[0]["waiting_minutes"] >= 0 and tickets[0]["last_user_message"] == "Tôi muốn gặp cán bộ"
    transcript = client.get(f"/api/handoffs/{ticket_id}").json()["transcript"]
    assert transcript == TRANSCRIPT
    assert audit_entries(env, "handoff_read")[0]["staff"] == "lan"
    assert client.post(f"/api/handoffs/{ticket_id}/reply", {"text": "  "}).status_code == 400
    env["rasa"].calls.clear()
    reply = client.post(f"/api/handoffs/{ticket_id}/reply", {"text": "Chào anh, tôi là cán bộ Lan."})
    assert reply.status_code == 201 and reply.json()["delivery"] == "sent"
    call = env["rasa"].calls[-1]
    assert call["path"] == "/conversations/web-0912/execute" and call["query"]["output_channel"] == "socketio"
    assert call["body"] == {"name": "action_deliver_staff_reply"}
    closed = client.post(f"/api/handoffs/{ticket_id}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_by"] == "lan"
    assert env["rasa"].calls[-1]["body"] == [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
    assert client.post(f"/api/handoffs/{ticket_id}/close").status_code == 409
    assert client.get("/api/handoffs").json()["tickets"] == []
    assert client.get("/api/handoffs/HT-000000-0000").status_code == 404


def test_search_with_filters_and_procedure_page(env):
    client = logged_in(env, "lan")
    data = client.get("/api/search", params={"q": "cấp lại căn cước"}).json()
    codes = [r["code"] for r in data["results"]]
    assert codes[0] == "1.014064" and set(codes) >= {"1.014064", "2.001194", "1.000757"}
    first = data["results"][0]
    assert first["field"] == "Cấp, quản lý căn cước" and first["levels"] == ["Cấp xã"] and first["score"] > 0
    provincial = client.get("/api/search", params={"q": "cấp lại căn cước", "level": "Cấp tỉnh"}).json()
    assert [r["code"] for r in provincial["results"]] == ["2.001194"]
    residence = client.get("/api/search", params={"q": "cấp lại căn cước", "field": "Đăng ký, quản lý cư trú"})
    assert all(r["field"] == "Đăng ký, quản lý cư trú" for r in residence.json()["results"])
    assert client.get("/api/search", params={"q": " "}).status_code == 400
    assert client.get("/api/search", params={"q": "x" * 201}).status_code == 400
    facets = client.get("/api/facets").json()
    assert "Cấp tỉnh" in facets["levels"] and "Cấp, quản lý căn cước" in facets["fields"]

    page = client.get("/api/procedures/1.014064").json()
    proc = page["procedure"]
    assert proc["code"] == "1.014064" and proc["name"] == "Cấp lại thẻ căn cước"
    for key in ("field", "levels", "agencies", "channels", "documents", "steps", "legal_basis", "conditions",
                "result", "url", "applicants"):
        assert key in proc, key
    assert proc["documents"] and proc["steps"]
    aspects = {a["aspect"]: a for a in page["answers"]}
    assert set(aspects) == {"overview", "documents", "fee", "duration", "place", "online", "agency", "steps",
                            "legal_basis", "conditions", "result"}
    assert aspects["documents"]["label"] == "Hồ sơ, giấy tờ"
    assert aspects["documents"]["text"].startswith("**Cấp lại thẻ căn cước** (mã thủ tục 1.014064)")
    assert page["portal_url"] == proc["url"] and page["portal_url"].startswith("https://dichvucong.gov.vn/")
    missing = client.get("/api/procedures/9.999999")
    assert missing.status_code == 404 and "9.999999" in missing.json()["message"]


def test_security_headers(env):
    response = requests.get(env["base"] + "/api/me", timeout=10)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.skipif(not (ROOT / "models" / "kb-index" / "config.json").exists(), reason="models/kb-index not built")
@pytest.mark.parametrize("query, code", [("cấp lại căn cước", "1.014064"), ("đăng ký thường trú", "1.004222")])
def test_search_real_index(query, code):
    from console.services import KnowledgeConsole

    console = KnowledgeConsole()
    data = console.search(query)
    assert code in [r["code"] for r in data["results"][:3]], data["results"][:3]


def test_login_page_and_static_files_are_local_and_escape_text(env):
    page = requests.get(env["base"] + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'id="login-form"' in page.text and "Đăng nhập" in page.text and 'lang="vi"' in page.text
    for name, mime in (("console.js", "javascript"), ("console.css", "text/css")):
        response = requests.get(f"{env['base']}/static/{name}", timeout=10)
        assert response.status_code == 200 and mime in response.headers["Content-Type"], name
    static = ROOT / "console" / "static"
    for path in static.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "//cdn" not in text and "src=\"http" not in text and "href=\"http" not in text, path.name
    script = (static / "console.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "X-CSRF-Token" in script
