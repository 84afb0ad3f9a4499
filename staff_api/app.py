"""The staff HTTP API (Sanic): open handoff tickets, transcripts, replies, closing; feedback statuses.

Every ``/api`` route needs ``Authorization: Bearer <token>``: an officer's personal token (``python -m console
users token <name>``; only its hash is stored) or the shared ``STAFF_API_TOKEN`` of an integration (compared in
constant time). Replies, closings and feedback changes are recorded under the authenticated identity: the
officer's account name, or ``staff_api`` for the shared token — never a name the caller sends (a ``staff`` field
or ``X-Staff`` header is ignored). Replies are stored first (durable), then delivered through Rasa; closing resumes
the conversation in Rasa first, then closes the ticket.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from sanic import Request, Sanic, json
from sanic.response import HTTPResponse

from core.feedback import FeedbackError, FeedbackStore
from core.handoff import HandoffError, HandoffStore
from staff_api.rasa_client import RasaClient, RasaError

log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return json({"error": code, "message": message}, status=status)


def _feedback_dict(report) -> dict[str, Any]:
    return {
        "code": report.code, "topic": report.topic, "content": report.content, "location": report.location,
        "contact": report.contact, "consent": report.consent, "channel": report.channel, "status": report.status,
        "created_at": report.created_at.isoformat(), "updated_at": report.updated_at.isoformat(),
        "history": [{"status": e.status, "at": e.at.isoformat(), "note": e.note, "staff": e.staff}
                    for e in report.history],
    }


# The identity recorded for what the shared STAFF_API_TOKEN does (an integration, not a named officer).
SHARED_TOKEN_STAFF = "staff_api"


def create_app(handoffs: HandoffStore, feedback: FeedbackStore, rasa: RasaClient, token: str,
               name: str = "staff_api", accounts: Any = None) -> Sanic:
    """The Sanic application; refuses to be built without a token.

    ``accounts`` (a :class:`console.auth.AccountStore`) resolves officers' personal tokens; without it only the
    shared token is accepted.
    """
    if not token or len(token) < 16:
        raise ValueError("STAFF_API_TOKEN phải được đặt (ít nhất 16 ký tự) để chạy API cho cán bộ.")
    expected = f"Bearer {token}".encode("utf-8")
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"

    @app.on_request
    async def authenticate(request: Request):
        request.ctx.staff = None
        if not request.path.startswith("/api/"):
            return None
        header = request.headers.get("authorization") or ""
        if hmac.compare_digest(header.encode("utf-8"), expected):
            request.ctx.staff = SHARED_TOKEN_STAFF
            return None
        scheme, _, given = header.partition(" ")
        account = None
        if accounts is not None and scheme == "Bearer" and given:
            account = await asyncio.to_thread(accounts.api_token_account, given)
        if account is None:
            return _error(401, "unauthorized", "Thiếu hoặc sai mã truy cập.")
        request.ctx.staff = account.name
        return None

    def staff_of(request: Request) -> str:
        """Who is acting: the authenticated identity (never a name from the request)."""
        return request.ctx.staff

    @app.get("/health")
    async def health(request: Request):
        return json({"status": "ok"})

    @app.get("/api/handoffs")
    async def list_handoffs(request: Request):
        tickets = await asyncio.to_thread(handoffs.list_open)
        return json({"tickets": [t.summary() for t in tickets]})

    @app.get("/api/handoffs/<ticket_id:str>")
    async def get_handoff(request: Request, ticket_id: str):
        ticket = await asyncio.to_thread(handoffs.get, ticket_id)
        if ticket is None:
            return _error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")
        return json(ticket.to_dict())

    @app.post("/api/handoffs/<ticket_id:str>/reply")
    async def reply(request: Request, ticket_id: str):
        body = request.json if isinstance(request.json, dict) else {}
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "bad_request", "Cần trường \"text\" là nội dung trả lời.")
        try:
            stored = await asyncio.to_thread(handoffs.add_reply, ticket_id, text, staff_of(request))
        except HandoffError as exc:
            return _error(exc.status, "handoff_error", exc.message)
        ticket = await asyncio.to_thread(handoffs.get, ticket_id)
        delivery = "sent"
        try:
            await asyncio.to_thread(rasa.deliver_replies, stored.sender_id, ticket.channel if ticket else "latest")
        except RasaError as exc:
            log.warning("reply %s to ticket %s stored, delivery failed: %s", stored.id, ticket_id, exc)
            delivery = "pending"
        return json({"reply": {"id": stored.id, "text": stored.text, "staff": stored.staff,
                               "created_at": stored.created_at.isoformat()}, "delivery": delivery},
                    status=201 if delivery == "sent" else 202)

    @app.post("/api/handoffs/<ticket_id:str>/deliver")
    async def deliver(request: Request, ticket_id: str):
        ticket = await asyncio.to_thread(handoffs.get, ticket_id)
        if ticket is None:
            return _error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")
        try:
            await asyncio.to_thread(rasa.deliver_replies, ticket.sender_id, ticket.channel)
        except RasaError as exc:
            return _error(502, "rasa_unavailable", f"Chưa gửi được tới người dân: {exc}")
        return json({"delivery": "sent"})

    @app.post("/api/handoffs/<ticket_id:str>/close")
    async def close(request: Request, ticket_id: str):
        ticket = await asyncio.to_thread(handoffs.get, ticket_id)
        if ticket is None:
            return _error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")
        if ticket.status != "open":
            return _error(409, "handoff_error", f"Yêu cầu {ticket_id} đã đóng.")
        try:
            await asyncio.to_thread(rasa.resume, ticket.sender_id)
        except RasaError as exc:
            return _error(502, "rasa_unavailable", f"Chưa mở lại được trợ lý cho cuộc trò chuyện: {exc}")
        try:
            closed = await asyncio.to_thread(handoffs.close, ticket_id, staff_of(request))
        except HandoffError as exc:
            return _error(exc.status, "handoff_error", exc.message)
        return json(closed.to_dict())

    @app.get("/api/feedback")
    async def list_feedback(request: Request):
        status = request.args.get("status")
        reports = await asyncio.to_thread(feedback.list, status)
        return json({"reports": [_feedback_dict(r) for r in reports]})

    @app.get("/api/feedback/<code:str>")
    async def get_feedback(request: Request, code: str):
        report = await asyncio.to_thread(feedback.get, code)
        if report is None:
            return _error(404, "not_found", f"Không tìm thấy phản ánh {code}.")
        return json(_feedback_dict(report))

    @app.post("/api/feedback/<code:str>/status")
    async def set_feedback_status(request: Request, code: str):
        body = request.json if isinstance(request.json, dict) else {}
        status, note = body.get("status"), body.get("note")
        if not isinstance(status, str):
            return _error(400, "bad_request", "Cần trường \"status\".")
        if await asyncio.to_thread(feedback.get, code) is None:
            return _error(404, "not_found", f"Không tìm thấy phản ánh {code}.")
        try:
            report = await asyncio.to_thread(feedback.set_status, code, status, note, staff_of(request))
        except FeedbackError as exc:
            return _error(400, "feedback_error", exc.message)
        return json(_feedback_dict(report))

    return app
