"""Officers' own session: log in (session cookie + CSRF token), log out, who am I, change the password.

Only the console mounts these: the session cookie they set is what its front door checks.
"""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, json
from sanic.response import HTTPResponse

from console.auth import AuthError
from console.handlers.common import Route, audit, body, deps, error, staff

log = logging.getLogger(__name__)

COOKIE = "console_session"


def set_cookie(request: Request, response: HTTPResponse, token: str, max_age: int) -> None:
    """Set (or, with ``max_age`` 0, clear) the HttpOnly, SameSite=Strict session cookie."""
    response.cookies[COOKIE] = token
    cookie = response.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = max_age
    if deps(request).secure_cookie:
        cookie["secure"] = True


def _session_dict(session) -> dict:
    return {"user": session.account.to_dict(), "csrf_token": session.csrf_token,
            "expires_at": session.expires_at.isoformat()}


async def login(request: Request) -> HTTPResponse:
    """Check name and password (throttled per account and client address) and open a session."""
    data = body(request)
    name, password = data.get("name"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        return error(400, "bad_request", "Cần nhập tên đăng nhập và mật khẩu.")
    accounts, throttle = deps(request).accounts, deps(request).throttle
    # The client is the connection's peer address (the console is not behind a proxy; a forwarded header,
    # which anyone can send, is never trusted here).
    client = request.conn_info.client_ip if request.conn_info else ""
    wait = throttle.retry_after(name, client)
    if wait:
        minutes = max(1, -(-wait // 60))
        return error(429, "too_many_attempts",
                     f"Đăng nhập sai quá nhiều lần từ máy này. Hãy thử lại sau {minutes} phút.")
    account = await asyncio.to_thread(accounts.authenticate, name[:100], password[:300])
    if account is None:
        throttle.failed(name, client)
        log.info("console login refused")
        return error(401, "bad_credentials", "Tên đăng nhập hoặc mật khẩu không đúng.")
    throttle.succeeded(name, client)
    token, session = await asyncio.to_thread(accounts.create_session, account)
    await asyncio.to_thread(deps(request).audit.record, account.name, "login")
    response = json(_session_dict(session))
    set_cookie(request, response, token, int(accounts.session_ttl.total_seconds()))
    return response


async def logout(request: Request) -> HTTPResponse:
    """End this session and clear its cookie."""
    await asyncio.to_thread(deps(request).accounts.end_session, request.ctx.token)
    response = json({"status": "logged_out"})
    set_cookie(request, response, "", 0)
    return response


async def me(request: Request) -> HTTPResponse:
    """The signed-in officer, the session's CSRF token and when it expires."""
    return json(_session_dict(request.ctx.session))


async def change_password(request: Request) -> HTTPResponse:
    """Change the officer's password (policy checked) and end their other sessions."""
    data = body(request)
    current, new = data.get("current_password"), data.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str):
        return error(400, "bad_request", "Cần mật khẩu hiện tại và mật khẩu mới.")
    accounts = deps(request).accounts
    try:
        await asyncio.to_thread(accounts.change_password, staff(request), current, new)
    except AuthError as exc:
        return error(400, "password_refused", exc.message)
    await asyncio.to_thread(accounts.end_sessions, staff(request), keep_token=request.ctx.token)
    await audit(request, "password_change")
    return json({"status": "changed"})


ROUTES = (
    Route("POST", "/api/login", login),
    Route("POST", "/api/logout", logout),
    Route("GET", "/api/me", me),
    Route("POST", "/api/password", change_password),
)
