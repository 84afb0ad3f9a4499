"""The knowledge base for officers: filter facets, search with field/level filters, procedure pages with a ready
answer per aspect."""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, json
from sanic.response import HTTPResponse

from console.handlers.common import Route, deps, error
from console.services import ConsoleError

log = logging.getLogger(__name__)


async def facets(request: Request) -> HTTPResponse:
    """The fields and levels present in the knowledge base (the filter drop-downs)."""
    return json(await asyncio.to_thread(deps(request).knowledge.facets))


async def search(request: Request) -> HTTPResponse:
    """Ranked procedures and FAQ entries for ``?q=``, optionally only one ``field`` and ``level``."""
    try:
        data = await asyncio.to_thread(deps(request).knowledge.search, request.args.get("q", ""),
                                       request.args.get("field"), request.args.get("level"))
    except ConsoleError as exc:
        return error(exc.status, "bad_request", exc.message)
    except Exception:  # index or model missing/broken: say so, never a stack trace
        log.exception("console search failed")
        return error(503, "search_unavailable", "Chức năng tìm kiếm đang gián đoạn (chưa nạp được chỉ mục "
                                                "tri thức). Hãy thử lại sau.")
    return json(data)


async def procedure(request: Request, code: str) -> HTTPResponse:
    """Every structured field of procedure ``code``, a ready answer per aspect and the portal link."""
    try:
        return json(await asyncio.to_thread(deps(request).knowledge.procedure_page, code))
    except ConsoleError as exc:
        return error(exc.status, "not_found", exc.message)


ROUTES = (
    Route("GET", "/api/facets", facets),
    Route("GET", "/api/search", search),
    Route("GET", "/api/procedures/<code:str>", procedure),
)
