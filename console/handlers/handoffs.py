"""Handoff tickets: the open inbox, one ticket with its transcript, an officer's reply, redelivery, closing.

A reply is stored first (durable), then delivered through Rasa (202 and ``"pending"`` when Rasa is unreachable;
``/deliver`` retries). Closing resumes the conversation in Rasa first, then closes the ticket, so a ticket is never
closed while its conversation stays paused.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, body, deps, error, staff
from core.db import now_vn
from core.handoff import HandoffError
from staff_api.rasa_client import RasaError

log = logging.getLogger(__name__)


def waiting_minutes(created_iso: str, now: datetime) -> int:
    """Whole minutes since the ticket was opened at ``created_iso``."""
    return max(0, int((now - datetime.fromisoformat(created_iso)).total_seconds() // 60))


def _not_found(ticket_id: str) -> HTTPResponse:
    return error(404, "not_found", f"Không tìm thấy yêu cầu {ticket_id}.")


async def list_open(request: Request) -> HTTPResponse:
    """The open tickets, oldest first, each with how long the citizen has been waiting."""
    tickets = await asyncio.to_thread(deps(request).handoffs.list_open)
    now = now_vn()
    items = []
    for ticket in tickets:
        summary = ticket.summary()
        summary["waiting_minutes"] = waiting_minutes(summary["created_at"], now)
        items.append(summary)
    return json({"tickets": items})


async def get_ticket(request: Request, ticket_id: str) -> HTTPResponse:
    """One ticket with its transcript and replies (the read is audited)."""
    ticket = await asyncio.to_thread(deps(request).handoffs.get, ticket_id)
    if ticket is None:
        return _not_found(ticket_id)
    await audit(request, "handoff_read", ticket_id)
    return json(ticket.to_dict())


async def reply(request: Request, ticket_id: str) -> HTTPResponse:
    """Store the officer's reply, then deliver it to the citizen's channel through Rasa."""
    text = body(request).get("text")
    if not isinstance(text, str) or not text.strip():
        return error(400, "bad_request", "Cần nội dung trả lời (trường \"text\").")
    handoffs, rasa = deps(request).handoffs, deps(request).rasa
    try:
        stored = await asyncio.to_thread(handoffs.add_reply, ticket_id, text, staff(request))
    except HandoffError as exc:
        return error(exc.status, "handoff_error", exc.message)
    ticket = await asyncio.to_thread(handoffs.get, ticket_id)
    delivery = "sent"
    try:
        await asyncio.to_thread(rasa.deliver_replies, stored.sender_id, ticket.channel if ticket else "latest")
    except RasaError as exc:
        log.warning("reply %s to ticket %s stored, delivery failed: %s", stored.id, ticket_id, exc)
        delivery = "pending"
    await audit(request, "handoff_reply", ticket_id)
    return json({"reply": {"id": stored.id, "text": stored.text, "staff": stored.staff,
                           "created_at": stored.created_at.isoformat()}, "delivery": delivery},
                status=201 if delivery == "sent" else 202)


async def deliver(request: Request, ticket_id: str) -> HTTPResponse:
    """Deliver the ticket's pending replies again (after Rasa was unreachable)."""
    ticket = await asyncio.to_thread(deps(request).handoffs.get, ticket_id)
    if ticket is None:
        return _not_found(ticket_id)
    try:
        await asyncio.to_thread(deps(request).rasa.deliver_replies, ticket.sender_id, ticket.channel)
    except RasaError as exc:
        return error(502, "rasa_unavailable", f"Chưa gửi được tới người dân: {exc}")
    return json({"delivery": "sent"})


async def close(request: Request, ticket_id: str) -> HTTPResponse:
    """Let the bot resume the conversation in Rasa, then close the ticket."""
    handoffs = deps(request).handoffs
    ticket = await asyncio.to_thread(handoffs.get, ticket_id)
    if ticket is None:
        return _not_found(ticket_id)
    if ticket.status != "open":
        return error(409, "handoff_error", f"Yêu cầu {ticket_id} đã đóng.")
    try:
        await asyncio.to_thread(deps(request).rasa.resume, ticket.sender_id)
    except RasaError as exc:
        return error(502, "rasa_unavailable", f"Chưa mở lại được trợ lý cho cuộc trò chuyện: {exc}")
    try:
        closed = await asyncio.to_thread(handoffs.close, ticket_id, staff(request))
    except HandoffError as exc:
        return error(exc.status, "handoff_error", exc.message)
    await audit(request, "handoff_close", ticket_id)
    return json(closed.to_dict())


ROUTES = (
    Route("GET", "/api/handoffs", list_open),
    Route("GET", "/api/handoffs/<ticket_id:str>", get_ticket),
    Route("POST", "/api/handoffs/<ticket_id:str>/reply", reply),
    Route("POST", "/api/handoffs/<ticket_id:str>/close", close),
)
# Redelivery is mounted by the staff API only (the console has no button for it).
DELIVERY_ROUTES = (Route("POST", "/api/handoffs/<ticket_id:str>/deliver", deliver),)
