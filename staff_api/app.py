"""The staff HTTP API (Sanic): open handoff tickets, transcripts, replies, closing; feedback statuses.

Every ``/api`` route needs ``Authorization: Bearer <STAFF_API_TOKEN>`` (compared in constant time). The
officer's name comes from the JSON body's ``staff`` field or the %-encoded ``X-Staff`` header (default
"cán bộ"). Replies are stored first (durable),
then delivered through Rasa; closing resumes the conversation in Rasa first, then closes the ticket.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any
from urllib.parse import unquote

from sanic import Request, Sanic, json
from sanic.response import HTTPResponse

from actions.services.feedback import FeedbackError, FeedbackStore
from actions.services.handoff import HandoffError, HandoffStore
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


def create_app(handoffs: HandoffStore, feedback: FeedbackStore, rasa: RasaClient, token: str,
               name: str = "staff_api") -> Sanic:
    """The Sanic application; refuses to be built without a token."""
    if not token or len(token) < 16:
        raise ValueError("STAFF_API_TOKEN phải được đặt (ít nhất 16 ký tự) để chạy API cho cán bộ.")
    expected = f"Bearer {token}".encode("utf-8")
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"

    @app.on_request
    async def authenticate(request: Request):
        if not request.path.startswith("/api/"):
            return None
        given = (request.headers.get("authorization") or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return _error(401, "unauthorized", "Thiếu hoặc sai mã truy cập.")
        return None

    def staff_of(request: Request) -> str:
        body = request.json if request.method == "POST" and isinstance(request.json, dict) else {}
        name = body.get("staff") if isinstance(body.get("staff"), str) else None
        name = name or unquote(request.headers.get("x-staff") or "")  # headers are Latin-1: %-encode names
        return name.strip()[:100] or "cán bộ"

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
