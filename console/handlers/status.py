"""Application status lookups by signed-in officers: the whole record, without the citizen's verification digits;
every lookup is audited (the code masked)."""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, audit, deps, error
from console.services import ConsoleError, staff_status_lookup
from core.status.base import StatusBackendError

log = logging.getLogger(__name__)


async def lookup(request: Request, code: str) -> HTTPResponse:
    """The application ``code`` (any spelling) with its history."""
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
    return json({"application": found.to_dict()})


ROUTES = (Route("GET", "/api/status/<code:str>", lookup),)
