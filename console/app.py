"""The help-desk console (Sanic): a JSON API under ``/api/`` and the static pages of the console.

Authentication: ``POST /api/login`` sets an HttpOnly, SameSite=Strict session cookie and returns the session's
CSRF token; every other ``/api`` route answers 401 without a live session. State-changing requests (POST) must
carry the token in ``X-CSRF-Token``. An account flagged for a forced password change can only use ``/api/me``,
``/api/password`` and ``/api/logout`` until it has chosen a new password. ``/api/analytics`` is for supervisors.
Reads and changes of citizens' data are written to the audit log (keys masked).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sanic import Request, Sanic, json
from sanic.response import HTTPResponse, file, text

from core.feedback import FEEDBACK_STATUSES, FeedbackError, FeedbackStore
from core.handoff import HandoffError, HandoffStore
from core.status.base import StatusBackend, StatusBackendError
from console.auth import AccountStore, AuditLog, AuthError, LoginThrottle, Session, csrf_matches
from console.services import ConsoleError, KnowledgeConsole, analytics, analytics_csv, staff_status_lookup
from staff_api.app import _feedback_dict
from staff_api.rasa_client import RasaClient, RasaError

log = logging.getLogger(__name__)

COOKIE = "console_session"
STATIC_DIR = Path(__file__).resolve().parent / "static"
OPEN_PATHS = {"/api/login"}
PASSWORD_CHANGE_PATHS = {"/api/me", "/api/password", "/api/logout"}
SUPERVISOR_PATHS = ("/api/analytics", "/api/audit")
@dataclass
class ConsoleDeps:
    """Everything the console talks to (real stores in production, temporary ones in tests)."""

    accounts: AccountStore
    audit: AuditLog
    handoffs: HandoffStore
    feedback: FeedbackStore
    status: Callable[[], StatusBackend]
    knowledge: KnowledgeConsole
    rasa: RasaClient
    secure_cookie: bool = False
    tracker_db: Any = None  # Rasa's SQLite tracker store, for the conversation analytics
    throttle: LoginThrottle | None = None  # failed-login counters (a fresh one per app by default)


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return json({"error": code, "message": message}, status=status)


def _body(request: Request) -> dict:
    try:
        data = request.json
    except Exception:  # malformed JSON
        return {}
    return data if isinstance(data, dict) else {}


def _waiting_minutes(created_iso: str, now) -> int:
    from datetime import datetime

    return max(0, int((now - datetime.fromisoformat(created_iso)).total_seconds() // 60))


def create_app(deps: ConsoleDeps, name: str = "console") -> Sanic:
    """The Sanic application of the console."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.deps = deps
    accounts, audit = deps.accounts, deps.audit
    throttle = deps.throttle or LoginThrottle()

    def set_cookie(response: HTTPResponse, token: str, max_age: int) -> None:
        response.cookies[COOKIE] = token
        cookie = response.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = max_age
        if deps.secure_cookie:
            cookie["secure"] = True

    @app.on_request
    async def authenticate(request: Request):
        request.ctx.session = None
        path = request.path
        if not path.startswith("/api/") or path in OPEN_PATHS:
            return None
        token = request.cookies.get(COOKIE)
        session: Session | None = await asyncio.to_thread(accounts.get_session, token)
        if session is None:
            return _error(401, "unauthorized", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Hãy đăng nhập lại.")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not csrf_matches(request.headers.get("x-csrf-token"), session.csrf_token):
                return _error(403, "csrf", "Thiếu hoặc sai mã chống giả mạo (CSRF). Hãy tải lại trang.")
        if session.account.must_change_password and path not in PASSWORD_CHANGE_PATHS:
            return _error(403, "password_change_required", "Bạn cần đổi mật khẩu trước khi sử dụng bảng điều khiển.")
        if path.startswith(SUPERVISOR_PATHS) and session.account.role != "supervisor":
            return _error(403, "forbidden", "Chức năng này chỉ dành cho giám sát viên.")
        request.ctx.session = session
        request.ctx.token = token
        return None

    @app.on_response
    async def security_headers(request: Request, response: HTTPResponse):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")

    def staff(request: Request) -> str:
        return request.ctx.session.account.name

    # ---- health and static pages -------------------------------------------------------------------------
    @app.get("/health")
    async def health(request: Request):
        return json({"status": "ok"})

    @app.get("/")
    async def index(request: Request):
        page = STATIC_DIR / "index.html"
        if not page.exists():
            return text("Bảng điều khiển cho cán bộ: giao diện chưa được cài đặt; API ở /api/.", status=200)
        return await file(page, mime_type="text/html; charset=utf-8")

    if STATIC_DIR.is_dir():
        app.static("/static", str(STATIC_DIR), name="console_static")

    # ---- session -----------------------------------------------------------------------------------------
    @app.post("/api/login")
    async def login(request: Request):
        body = _body(request)
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
            return _error(400, "bad_request", "Cần nhập tên đăng nhập và mật khẩu.")
        # The client is the connection's peer address (the console is not behind a proxy; a forwarded header,
        # which anyone can send, is never trusted here).
        client = request.conn_info.client_ip if request.conn_info else ""
        wait = throttle.retry_after(name, client)
        if wait:
            minutes = max(1, -(-wait // 60))
            return _error(429, "too_many_attempts",
                          f"Đăng nhập sai quá nhiều lần từ máy này. Hãy thử lại sau {minutes} phút.")
        account = await asyncio.to_thread(accounts.authenticate, name[:100], password[:300])
        if account is None:
            throttle.failed(name, client)
            log.info("console login refused")
            return _error(401, "bad_credentials", "Tên đăng nhập hoặc mật khẩu không đúng.")
        throttle.succeeded(name, client)
        token, session = await asyncio.to_thread(accounts.create_session, account)
        await asyncio.to_thread(audit.record, account.name, "login")
        response = json({"user": account.to_dict(), "csrf_token": session.csrf_token,
                         "expires_at": session.expires_at.isoformat()})
        set_cookie(response, token, int(accounts.session_ttl.total_seconds()))
        return response

    @app.post("/api/logout")
    async def logout(request: Request):
        await asyncio.to_thread(accounts.end_session, request.ctx.token)
        response = json({"status": "logged_out"})
        set_cookie(response, "", 0)
        return response

    @app.get("/api/me")
    async def me(request: Request):
        session = request.ctx.session
        return json({"user": session.account.to_dict(), "csrf_token": session.csrf_token,
                     "expires_at": session.expires_at.isoformat()})

    @app.post("/api/password")
    async def change_password(request: Request):
        body = _body(request)
        current, new = body.get("current_password"), body.get("new_password")
        if not isinstance(current, str) or not isinstance(new, str):
            return _error(400, "bad_request", "Cần mật khẩu hiện tại và mật khẩu mới.")
        try:
            await asyncio.to_thread(accounts.change_password, staff(request), current, new)
        except AuthError as exc:
            return _error(400, "password_refused", exc.message)
        await asyncio.to_thread(accounts.end_sessions, staff(request), keep_token=request.ctx.token)
        await asyncio.to_thread(audit.record, staff(request), "password_change")
        return json({"status": "changed"})

    # ---- knowledge ---------------------------------------------------------------------------------------
    @app.get("/api/facets")
    async def facets(request: Request):
        return json(await asyncio.to_thread(deps.knowledge.facets))

    @app.get("/api/search")
    async def search(request: Request):
        try:
            data = await asyncio.to_thread(deps.knowledge.search, request.args.get("q", ""),
                                           request.args.get("field"), request.args.get("level"))
        except ConsoleError as exc:
            return _error(exc.status, "bad_request", exc.message)
        except Exception:  # index or model missing/broken: say so, never a stack trace
            log.exception("console search failed")
            return _error(503, "search_unavailable", "Chức năng tìm kiếm đang gián đoạn (chưa nạp được chỉ mục "
                                                      "tri thức). Hãy thử lại sau.")
        return json(data)

    @app.get("/api/procedures/<code:str>")
    async def procedure(request: Request, code: str):
        try:
            return json(await asyncio.to_thread(deps.knowledge.procedure_page, code))
        except ConsoleError as exc:
            return _error(exc.status, "not_found", exc.message)

    # ---- handoff inbox -----------------------------------------------------------------------------------
    @app.get("/api/handoffs")
    async def list_handoffs(request: Request):
        from core.db import now_vn

        tickets = await asyncio.to_thread(deps.handoffs.list_open)
        now = now_vn()
        items = []
        for ticket in tickets:
            summary = ticket.summary()
            summary["waiting_minutes"] = _waiting_minutes(summary["created_at"], now)
            items.append(summary)
        return json({"tickets": items})

    @app.get("/api/handoffs/<ticket_id:str>")
    async def get_handoff(request: Request, ticket_id: str):
        ticket = await asyncio.to_thread(deps.handoffs.get, ticket_id)
        if ticket is None:
            return _error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")
        await asyncio.to_thread(audit.record, staff(request), "handoff_read", ticket_id)
        return json(ticket.to_dict())

    @app.post("/api/handoffs/<ticket_id:str>/reply")
    async def reply(request: Request, ticket_id: str):
        text_ = _body(request).get("text")
        if not isinstance(text_, str) or not text_.strip():
            return _error(400, "bad_request", "Cần nội dung trả lời.")
        try:
            stored = await asyncio.to_thread(deps.handoffs.add_reply, ticket_id, text_, staff(request))
        except HandoffError as exc:
            return _error(exc.status, "handoff_error", exc.message)
        ticket = await asyncio.to_thread(deps.handoffs.get, ticket_id)
        delivery = "sent"
        try:
            await asyncio.to_thread(deps.rasa.deliver_replies, stored.sender_id,
                                    ticket.channel if ticket else "latest")
        except RasaError as exc:
            log.warning("console reply %s to ticket %s stored, delivery failed: %s", stored.id, ticket_id, exc)
            delivery = "pending"
        await asyncio.to_thread(audit.record, staff(request), "handoff_reply", ticket_id)
        return json({"reply": {"id": stored.id, "text": stored.text, "staff": stored.staff,
                               "created_at": stored.created_at.isoformat()}, "delivery": delivery},
                    status=201 if delivery == "sent" else 202)

    @app.post("/api/handoffs/<ticket_id:str>/close")
    async def close(request: Request, ticket_id: str):
        ticket = await asyncio.to_thread(deps.handoffs.get, ticket_id)
        if ticket is None:
            return _error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")
        if ticket.status != "open":
            return _error(409, "handoff_error", f"Yêu cầu {ticket_id} đã đóng.")
        try:
            await asyncio.to_thread(deps.rasa.resume, ticket.sender_id)
        except RasaError as exc:
            return _error(502, "rasa_unavailable", f"Chưa mở lại được trợ lý cho cuộc trò chuyện: {exc}")
        try:
            closed = await asyncio.to_thread(deps.handoffs.close, ticket_id, staff(request))
        except HandoffError as exc:
            return _error(exc.status, "handoff_error", exc.message)
        await asyncio.to_thread(audit.record, staff(request), "handoff_close", ticket_id)
        return json(closed.to_dict())

    # ---- status lookups ----------------------------------------------------------------------------------
    @app.get("/api/status/<code:str>")
    async def status(request: Request, code: str):
        try:
            found = await asyncio.to_thread(staff_status_lookup, deps.status(), code)
        except ConsoleError as exc:
            await asyncio.to_thread(audit.record, staff(request), "status_lookup", code, f"refused {exc.status}")
            return _error(exc.status, "status_error", exc.message)
        except StatusBackendError:
            log.warning("console status lookup: backend unavailable")
            return _error(503, "status_unavailable", "Hệ thống tra cứu hồ sơ đang gián đoạn, hãy thử lại sau.")
        await asyncio.to_thread(audit.record, staff(request), "status_lookup", code,
                                "found" if found else "not_found")
        if found is None:
            return _error(404, "not_found", "Không có hồ sơ với mã này.")
        return json({"application": found.to_dict()})

    # ---- feedback ----------------------------------------------------------------------------------------
    @app.get("/api/feedback")
    async def list_feedback(request: Request):
        status_filter = request.args.get("status")
        reports = await asyncio.to_thread(deps.feedback.list, status_filter)
        await asyncio.to_thread(audit.record, staff(request), "feedback_list", None,
                                f"{len(reports)} reports" + (f", status {status_filter}" if status_filter else ""))
        return json({"reports": [_feedback_dict(r) for r in reports], "statuses": list(FEEDBACK_STATUSES)})

    @app.get("/api/feedback/<code:str>")
    async def get_feedback(request: Request, code: str):
        report = await asyncio.to_thread(deps.feedback.get, code)
        if report is None:
            return _error(404, "not_found", f"Không tìm thấy phản ánh {code}.")
        await asyncio.to_thread(audit.record, staff(request), "feedback_read", code)
        return json(_feedback_dict(report))

    @app.post("/api/feedback/<code:str>/status")
    async def set_feedback_status(request: Request, code: str):
        body = _body(request)
        new_status, note = body.get("status"), body.get("note")
        if not isinstance(new_status, str) or (note is not None and not isinstance(note, str)):
            return _error(400, "bad_request", "Cần trạng thái mới (và ghi chú nếu có).")
        if await asyncio.to_thread(deps.feedback.get, code) is None:
            return _error(404, "not_found", f"Không tìm thấy phản ánh {code}.")
        try:
            report = await asyncio.to_thread(deps.feedback.set_status, code, new_status, note, staff(request))
        except FeedbackError as exc:
            return _error(400, "feedback_error", exc.message)
        await asyncio.to_thread(audit.record, staff(request), "feedback_status", code, f"-> {report.status}")
        return json(_feedback_dict(report))

    # ---- supervisor --------------------------------------------------------------------------------------
    @app.get("/api/analytics")
    async def get_analytics(request: Request):
        try:
            days = min(90, max(1, int(request.args.get("days", "14"))))
        except ValueError:
            return _error(400, "bad_request", "Tham số days phải là số ngày (1–90).")
        data: dict[str, Any] = await asyncio.to_thread(analytics, deps.accounts.db, days, None, deps.tracker_db)
        if request.args.get("format") == "csv":
            return text(analytics_csv(data), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="thong-ke.csv"'})
        return json(data)

    @app.get("/api/audit")
    async def get_audit(request: Request):
        entries = await asyncio.to_thread(audit.recent, 200, request.args.get("action"))
        return json({"entries": [e.to_dict() for e in entries]})

    return app
