"""Application status lookups by signed-in officers: the whole record, without the citizen's verification digits;
every lookup is audited (the code masked)."""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, body, deps, error
from console.services import ConsoleError, staff_status_lookup
from core.notifications.events import StatusChangeError, StatusUpdate, change_application_status
from core.status.answer import default_hotline
from core.status.base import StatusBackendError
from core.status.models import STATUSES
from core.status.sql import SqlStatusBackend

log = logging.getLogger(__name__)


async def lookup(request: Request, code: str) -> HTTPResponse:
    """The application ``code`` (any spelling) with its history, and the statuses an officer may move it to."""
    try:
        found = await asyncio.to_thread(staff_status_lookup, deps(request).status(), code)
    except ConsoleError as exc:
        await audit(request, "status_lookup", code, f"refused {exc.status}")
        return error(exc.status, "status_error", exc.message)
    except StatusBackendError:
        log.warning("console status lookup: backend unavailable")
        return error(503, "status_unavailable", "Hệ thống tra cứu hồ sơ đang gián đoạn, hãy thử lại sau.")
    await audit(request, "status_lookup", code, "found" if found else "not_found")
    if found is None:
        return error(404, "not_found", "Không có hồ sơ với mã này.")
    return json({"application": found.to_dict(), "statuses": list(STATUSES)})


async def change(request: Request, code: str) -> HTTPResponse:
    """Move application ``code`` to a new status (``{"status", "note"?, "missing_documents"?, "result_pickup"?,
    "rejection_reason"?}``): the change and the notifications to its subscribers are stored together (audited)."""
    factory = deps(request).status
    backend = factory() if factory is not None else None
    if not isinstance(backend, SqlStatusBackend):
        return error(501, "status_readonly", "Trạng thái hồ sơ do hệ thống một cửa quản lý; hãy cập nhật trên hệ "
                                             "thống một cửa (thay đổi sẽ được gửi sang qua webhook).")
    try:
        update = StatusUpdate.from_request(body(request))
        recorded = await asyncio.to_thread(change_application_status, backend.db, code, update,
                                           hotline=default_hotline())
    except StatusChangeError as exc:
        await audit(request, "status_change", code, f"refused {exc.status}")
        return error(exc.status, "status_change_error", exc.message)
    await audit(request, "status_change", code, f"-> {update.status}, {recorded.queued} notifications")
    found = await asyncio.to_thread(backend.lookup_trusted, code)
    return json({"application": found.to_dict() if found else None, "notifications_queued": recorded.queued})


ROUTES = (Route("GET", "/api/status/<code:str>", lookup),)
# The status write: the console mounts it, the staff API too (``status_change`` needs a database backend).
CHANGE_ROUTES = (Route("POST", "/api/status/<code:str>", change),)
