"""The help-desk console (Sanic): the session front door to the staff handlers (:mod:`console.handlers`) under
``/api/``, and the static pages of the console.

Authentication: ``POST /api/login`` sets an HttpOnly, SameSite=Strict session cookie and returns the session's
CSRF token; every other ``/api`` route answers 401 without a live session. State-changing requests (POST) must
carry the token in ``X-CSRF-Token``. An account flagged for a forced password change can only use ``/api/me``,
``/api/password`` and ``/api/logout`` until it has chosen a new password. ``/api/analytics`` is for supervisors.
Reads and changes of citizens' data are written to the audit log (keys masked).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sanic import Request, Sanic
from sanic.response import HTTPResponse, file, text

from console.auth import Session, csrf_matches
from console.handlers import accounts, analytics, feedback, handoffs, notifications, review, search, status
from console.handlers.common import Route, StaffDeps, error, health, mount

STATIC_DIR = Path(__file__).resolve().parent / "static"
OPEN_PATHS = {"/api/login"}
PASSWORD_CHANGE_PATHS = {"/api/me", "/api/password", "/api/logout"}
SUPERVISOR_PATHS = ("/api/analytics", "/api/audit")
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'self'")


async def authenticate(request: Request) -> HTTPResponse | None:
    """The session of the cookie, the CSRF token of a POST, a forced password change, the supervisor role."""
    request.ctx.session = None
    request.ctx.staff = None
    path = request.path
    if not path.startswith("/api/") or path in OPEN_PATHS:
        return None
    token = request.cookies.get(accounts.COOKIE)
    session: Session | None = await asyncio.to_thread(request.app.ctx.deps.accounts.get_session, token)
    if session is None:
        return error(401, "unauthorized", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Hãy đăng nhập lại.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not csrf_matches(request.headers.get("x-csrf-token"), session.csrf_token):
            return error(403, "csrf", "Thiếu hoặc sai mã chống giả mạo (CSRF). Hãy tải lại trang.")
    if session.account.must_change_password and path not in PASSWORD_CHANGE_PATHS:
        return error(403, "password_change_required", "Bạn cần đổi mật khẩu trước khi sử dụng bảng điều khiển.")
    if path.startswith(SUPERVISOR_PATHS) and session.account.role != "supervisor":
        return error(403, "forbidden", "Chức năng này chỉ dành cho giám sát viên.")
    request.ctx.session = session
    request.ctx.token = token
    request.ctx.staff = session.account.name
    return None


async def security_headers(request: Request, response: HTTPResponse) -> None:
    """No sniffing, no framing, no referrer, a strict CSP; API answers are never cached."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def index(request: Request) -> HTTPResponse:
    """The console's single page (login, then the tabs)."""
    page = STATIC_DIR / "index.html"
    if not page.exists():
        return text("Bảng điều khiển cho cán bộ: giao diện chưa được cài đặt; API ở /api/.", status=200)
    return await file(page, mime_type="text/html; charset=utf-8")


ROUTES = (
    Route("GET", "/health", health),
    Route("GET", "/", index),
    *accounts.ROUTES, *search.ROUTES, *handoffs.ROUTES, *status.ROUTES, *status.CHANGE_ROUTES, *feedback.ROUTES,
    *analytics.ROUTES, *notifications.ROUTES, *review.ROUTES,
)


def create_app(deps: StaffDeps, name: str = "console") -> Sanic:
    """The Sanic application of the console."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.deps = deps
    app.on_request(authenticate)
    app.on_response(security_headers)
    mount(app, ROUTES)
    if STATIC_DIR.is_dir():
        app.static("/static", str(STATIC_DIR), name="console_static")
    return app
