"""The staff HTTP API (Sanic): the bearer-token front door to the staff handlers of :mod:`console.handlers` —
open handoff tickets, transcripts, replies, redelivery, closing; feedback reports and their statuses.

Every ``/api`` route needs ``Authorization: Bearer <token>``: an officer's personal token (``python -m console
users token <name>``; only its hash is stored) or the shared ``STAFF_API_TOKEN`` of an integration (compared in
constant time). Replies, closings and feedback changes are recorded under the authenticated identity: the
officer's account name, or ``staff_api`` for the shared token — never a name the caller sends (a ``staff`` field
or ``X-Staff`` header is ignored). Replies are stored first (durable), then delivered through Rasa; closing resumes
the conversation in Rasa first, then closes the ticket. ``POST /api/status/<code>`` changes an application's
status (database status backends) and queues the notifications of its subscribers.

``POST /events/status`` (outside ``/api``, no bearer token) is the one-stop system's signed status-change webhook
(:class:`core.notifications.webhook.StatusWebhook`: HMAC-SHA256 over the timestamp and the raw body).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from sanic import Request, Sanic, json
from sanic.response import HTTPResponse

from console.handlers import feedback, handoffs, status
from console.handlers.common import Route, StaffDeps, error, health, mount
from core.feedback import FeedbackStore
from core.handoff import HandoffStore
from core.notifications.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, StatusWebhook
from staff_api.rasa_client import RasaClient

# The identity recorded for what the shared STAFF_API_TOKEN does (an integration, not a named officer).
SHARED_TOKEN_STAFF = "staff_api"
MIN_TOKEN_CHARS = 16



async def status_event(request: Request) -> HTTPResponse:
    """The one-stop system's signed status-change event (see :class:`StatusWebhook`)."""
    webhook: StatusWebhook | None = request.app.ctx.status_webhook
    if webhook is None:
        return error(503, "not_configured", "Chưa cấu hình webhook thay đổi trạng thái hồ sơ.")
    code, answer = await asyncio.to_thread(webhook.handle, request.body or b"", request.headers.get(TIMESTAMP_HEADER),
                                           request.headers.get(SIGNATURE_HEADER))
    return json(answer, status=code)


ROUTES = (Route("GET", "/health", health), *handoffs.ROUTES, *handoffs.DELIVERY_ROUTES, *feedback.ROUTES,
          *status.CHANGE_ROUTES, Route("POST", "/events/status", status_event))


async def authenticate(request: Request) -> HTTPResponse | None:
    """The shared token, or an officer's personal token when the app knows the accounts; 401 otherwise."""
    request.ctx.staff = None
    if not request.path.startswith("/api/"):
        return None
    header = request.headers.get("authorization") or ""
    if hmac.compare_digest(header.encode("utf-8"), request.app.ctx.expected_header):
        request.ctx.staff = SHARED_TOKEN_STAFF
        return None
    scheme, _, given = header.partition(" ")
    accounts = request.app.ctx.deps.accounts
    account = None
    if accounts is not None and scheme == "Bearer" and given:
        account = await asyncio.to_thread(accounts.api_token_account, given)
    if account is None:
        return error(401, "unauthorized", "Thiếu hoặc sai mã truy cập.")
    request.ctx.staff = account.name
    return None


def create_app(handoffs: HandoffStore, feedback: FeedbackStore, rasa: RasaClient, token: str,
               name: str = "staff_api", accounts: Any = None, status: Any = None,
               status_webhook: StatusWebhook | None = None) -> Sanic:
    """The Sanic application; refuses to be built without a token.

    ``accounts`` (a :class:`console.auth.AccountStore`) resolves officers' personal tokens; without it only the
    shared token is accepted. ``status`` returns the status backend (status changes), ``status_webhook`` receives
    the one-stop system's events (503 without it).
    """
    if not token or len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"STAFF_API_TOKEN phải được đặt (ít nhất {MIN_TOKEN_CHARS} ký tự) để chạy API cho cán bộ.")
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.deps = StaffDeps(handoffs=handoffs, feedback=feedback, rasa=rasa, accounts=accounts, status=status)
    app.ctx.status_webhook = status_webhook
    app.ctx.expected_header = f"Bearer {token}".encode("utf-8")
    app.on_request(authenticate)
    mount(app, ROUTES)
    return app
