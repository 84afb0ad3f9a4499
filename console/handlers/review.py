"""The review queue ("Câu hỏi cần xem lại"): officers propose, supervisors approve or reject (core/review).

Questions are masked before they are stored, so what these routes show is masked too. Every proposal and decision
is written to the audit log.
"""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, body, deps, error, staff
from core.review.approved import ApprovedQuestionError
from core.review.queue import ReviewError

log = logging.getLogger(__name__)

STATUSES = ("open", "proposed", "approved", "rejected")
MAX_TRIED = 5  # wordings of a group tried against the bot
FIELDS = {"link": "code", "out_of_scope": "reason", "faq": "draft"}


def _service(request: Request):
    return deps(request).review


async def queue(request: Request) -> HTTPResponse:
    """The groups (``?status=`` open|proposed|approved|rejected), most asked first, after reading new
    conversations from the tracker store."""
    service = _service(request)
    if service is None:
        return error(501, "not_configured", "Chưa bật hàng đợi câu hỏi cần xem lại.")
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        return error(400, "bad_request", "Trạng thái phải là open, proposed, approved hoặc rejected.")
    added = await asyncio.to_thread(service.refresh)
    groups = await asyncio.to_thread(service.queue.groups, status)
    await audit(request, "review_list", None, f"{len(groups)} groups")
    return json({"groups": groups, "source_available": added is not None})


async def bot_answer(request: Request, item_id: int) -> HTTPResponse:
    """What the bot answers now to each wording of the group (at most five), and whether that is the procedure
    of the group's approved or proposed link."""
    service = _service(request)
    if service is None:
        return error(501, "not_configured", "Chưa bật hàng đợi câu hỏi cần xem lại.")
    group = await asyncio.to_thread(service.queue.group, item_id)
    if group is None:
        return error(404, "not_found", "Không tìm thấy câu hỏi cần xem lại.")
    decision = group["decision"] or {}
    linked = decision.get("code") if decision.get("kind") == "link" and decision.get("state") != "rejected" else None
    answers = []
    try:
        for question in list(dict.fromkeys([group["question"], *group["variants"]]))[:MAX_TRIED]:
            answer = await asyncio.to_thread(deps(request).knowledge.bot_answer, question)
            answers.append({**answer, "linked": linked is not None and answer["code"] == linked})
    except Exception:  # index or model missing/broken: say so, never a stack trace
        log.exception("review: bot answer failed")
        return error(503, "search_unavailable", "Chưa thử được câu trả lời của trợ lý (chỉ mục tri thức đang "
                                                "gián đoạn). Hãy thử lại sau.")
    return json({"id": item_id, "status": group["status"], "code": linked, "answers": answers})


async def _propose(request: Request, item_id: int, kind: str) -> HTTPResponse:
    service = _service(request)
    if service is None:
        return error(501, "not_configured", "Chưa bật hàng đợi câu hỏi cần xem lại.")
    value = body(request).get(FIELDS[kind])
    if value is not None and not isinstance(value, str):
        return error(400, "bad_request", "Nội dung gửi lên không hợp lệ.")
    try:
        group = await asyncio.to_thread(service.propose, item_id, staff(request), kind, value or "")
    except ReviewError as exc:
        return error(exc.status, "review", exc.message)
    await audit(request, f"review_{kind}", None, f"item {item_id}" + (f" -> {value}" if kind == "link" else ""))
    return json(group)


async def link(request: Request, item_id: int) -> HTTPResponse:
    """Propose the procedure ``{"code"}`` as the answer to the group."""
    return await _propose(request, item_id, "link")


async def out_of_scope(request: Request, item_id: int) -> HTTPResponse:
    """Propose the group as out of scope, with ``{"reason"}``."""
    return await _propose(request, item_id, "out_of_scope")


async def faq(request: Request, item_id: int) -> HTTPResponse:
    """Propose a new FAQ entry for the group, with a ``{"draft"}`` answer."""
    return await _propose(request, item_id, "faq")


async def _decide(request: Request, item_id: int, approve: bool) -> HTTPResponse:
    service = _service(request)
    if service is None:
        return error(501, "not_configured", "Chưa bật hàng đợi câu hỏi cần xem lại.")
    if request.ctx.session.account.role != "supervisor":
        return error(403, "forbidden", "Chỉ giám sát viên mới được duyệt hoặc từ chối đề xuất.")
    try:
        group = await asyncio.to_thread(service.decide, item_id, staff(request), approve)
    except ReviewError as exc:
        return error(exc.status, "review", exc.message)
    except ApprovedQuestionError:
        return error(422, "invalid_question", "Câu hỏi không hợp lệ để đưa vào ngân hàng câu hỏi.")
    await audit(request, "review_approve" if approve else "review_reject", None, f"item {item_id}")
    return json(group)


async def approve(request: Request, item_id: int) -> HTTPResponse:
    """A supervisor approves the group's pending proposal (an approved link joins the approved questions)."""
    return await _decide(request, item_id, True)


async def reject(request: Request, item_id: int) -> HTTPResponse:
    """A supervisor rejects the group's pending proposal."""
    return await _decide(request, item_id, False)


ROUTES = (
    Route("GET", "/api/review", queue),
    Route("GET", "/api/review/<item_id:int>/answer", bot_answer),
    Route("POST", "/api/review/<item_id:int>/link", link),
    Route("POST", "/api/review/<item_id:int>/out_of_scope", out_of_scope),
    Route("POST", "/api/review/<item_id:int>/faq", faq),
    Route("POST", "/api/review/<item_id:int>/approve", approve),
    Route("POST", "/api/review/<item_id:int>/reject", reject),
)
