"""For supervisors: the analytics (JSON or CSV) and the audit log. The front door restricts these routes to the
supervisor role."""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Request, json
from sanic.response import HTTPResponse, text

from console.handlers.common import Route, deps, error
from console.services import analytics, analytics_csv

DEFAULT_DAYS = "14"
MAX_DAYS = 90
DEFAULT_WEEKS = "12"
MAX_WEEKS = 52


async def report(request: Request) -> HTTPResponse:
    """Figures of the last ``?days=`` days (1–90, default 14) and the answer rate of the last ``?weeks=`` ISO weeks
    (1–52, default 12); ``?format=csv`` downloads the series as CSV."""
    try:
        days = min(MAX_DAYS, max(1, int(request.args.get("days", DEFAULT_DAYS))))
    except ValueError:
        return error(400, "bad_request", f"Tham số days phải là số ngày (1–{MAX_DAYS}).")
    try:
        weeks = min(MAX_WEEKS, max(1, int(request.args.get("weeks", DEFAULT_WEEKS))))
    except ValueError:
        return error(400, "bad_request", f"Tham số weeks phải là số tuần (1–{MAX_WEEKS}).")
    app_deps = deps(request)
    data: dict[str, Any] = await asyncio.to_thread(analytics, app_deps.accounts.db, days, None, app_deps.tracker_db,
                                                   weeks)
    if request.args.get("format") == "csv":
        return text(analytics_csv(data), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="thong-ke.csv"'})
    return json(data)


async def audit_log(request: Request) -> HTTPResponse:
    """The 200 most recent audit entries (``?action=`` for one action)."""
    entries = await asyncio.to_thread(deps(request).audit.recent, 200, request.args.get("action"))
    return json({"entries": [e.to_dict() for e in entries]})


ROUTES = (
    Route("GET", "/api/analytics", report),
    Route("GET", "/api/audit", audit_log),
)
