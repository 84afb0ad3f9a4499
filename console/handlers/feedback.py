"""Citizens' feedback reports: the list (optionally one status), one report with its history, a status change
with a note the citizen sees when checking the report."""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, body, deps, error, staff
from core.feedback import FEEDBACK_STATUSES, FeedbackError


def report_dict(report) -> dict[str, Any]:
    """A :class:`core.feedback.FeedbackReport` as JSON (its history included)."""
    return {
        "code": report.code, "topic": report.topic, "content": report.content, "location": report.location,
        "contact": report.contact, "consent": report.consent, "channel": report.channel, "status": report.status,
        "created_at": report.created_at.isoformat(), "updated_at": report.updated_at.isoformat(),
        "history": [{"status": e.status, "at": e.at.isoformat(), "note": e.note, "staff": e.staff}
                    for e in report.history],
    }


def _not_found(code: str) -> HTTPResponse:
    return error(404, "not_found", f"Không tìm thấy phản ánh {code}.")


async def list_reports(request: Request) -> HTTPResponse:
    """The most recent reports (``?status=`` for one status) and the statuses an officer can set."""
    status = request.args.get("status")
    reports = await asyncio.to_thread(deps(request).feedback.list, status)
    await audit(request, "feedback_list", None, f"{len(reports)} reports" + (f", status {status}" if status else ""))
    return json({"reports": [report_dict(r) for r in reports], "statuses": list(FEEDBACK_STATUSES)})


async def get_report(request: Request, code: str) -> HTTPResponse:
    """One report with its history (the read is audited)."""
    report = await asyncio.to_thread(deps(request).feedback.get, code)
    if report is None:
        return _not_found(code)
    await audit(request, "feedback_read", code)
    return json(report_dict(report))


async def set_status(request: Request, code: str) -> HTTPResponse:
    """Move the report to ``status`` with an optional ``note`` (text), recorded under the acting officer."""
    data = body(request)
    status, note = data.get("status"), data.get("note")
    if not isinstance(status, str) or (note is not None and not isinstance(note, str)):
        return error(400, "bad_request", "Cần trạng thái mới (trường \"status\") và, nếu có, ghi chú dạng văn bản "
                                         "(trường \"note\").")
    store = deps(request).feedback
    if await asyncio.to_thread(store.get, code) is None:
        return _not_found(code)
    try:
        report = await asyncio.to_thread(store.set_status, code, status, note, staff(request))
    except FeedbackError as exc:
        return error(400, "feedback_error", exc.message)
    await audit(request, "feedback_status", code, f"-> {report.status}")
    return json(report_dict(report))


ROUTES = (
    Route("GET", "/api/feedback", list_reports),
    Route("GET", "/api/feedback/<code:str>", get_report),
    Route("POST", "/api/feedback/<code:str>/status", set_status),
)
