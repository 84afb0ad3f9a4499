"""The status-change notifications' delivery log (codes masked, no recipient ids) and the outbox counts."""

from __future__ import annotations

import asyncio

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, deps, error

MAX_LOG_ROWS = 500


async def delivery_log(request: Request) -> HTTPResponse:
    """The latest delivery outcomes (``?limit=``, at most 500) and how many notifications are in each state."""
    outbox = deps(request).notifications
    if outbox is None:
        return error(501, "not_configured", "Chưa bật thông báo thay đổi trạng thái hồ sơ.")
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG_ROWS:
        return error(400, "bad_request", f"Số dòng (limit) phải từ 1 đến {MAX_LOG_ROWS}.")
    rows = await asyncio.to_thread(outbox.log, int(raw))
    counts = await asyncio.to_thread(outbox.counts)
    await audit(request, "notification_log", None, f"{len(rows)} rows")
    return json({"log": rows, "outbox": counts})


ROUTES = (Route("GET", "/api/notifications/log", delivery_log),)
