"""What every staff handler shares: the dependencies, the acting officer, JSON bodies and errors, the audit log,
and the route tables the front doors mount."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, NamedTuple

from sanic import Request, Sanic, json
from sanic.response import HTTPResponse

from console.auth import LoginThrottle

if TYPE_CHECKING:  # types only: the staff API process never loads the knowledge console
    from console.auth import AccountStore, AuditLog
    from console.services import KnowledgeConsole
    from core.feedback import FeedbackStore
    from core.handoff import HandoffStore
    from core.notifications.outbox import Outbox
    from core.review.service import ReviewService
    from core.status.base import StatusBackend
    from staff_api.rasa_client import RasaClient


@dataclass
class StaffDeps:
    """Everything the staff handlers talk to (real stores in production, temporary ones in tests).

    A front door fills what its routes use: the staff API the handoff and feedback stores, Rasa and the accounts
    (for officers' personal tokens); the console everything.
    """

    handoffs: HandoffStore
    feedback: FeedbackStore
    rasa: RasaClient
    accounts: AccountStore | None = None
    audit: AuditLog | None = None  # None: nothing is recorded (the staff API)
    status: Callable[[], StatusBackend] | None = None
    knowledge: KnowledgeConsole | None = None
    tracker_db: Any = None  # Rasa's tracker store, for the conversation analytics (core.tracker_db)
    secure_cookie: bool = False  # the session cookie's Secure flag (HTTPS)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)  # failed-login counters
    notifications: Outbox | None = None  # the status-change notifications' outbox and delivery log
    review: ReviewService | None = None  # the review queue (core/review)


class Route(NamedTuple):
    """One route of an area: HTTP method, Sanic URI pattern, handler."""

    method: str
    uri: str
    handler: Callable[..., Awaitable[HTTPResponse]]


def mount(app: Sanic, routes: Iterable[Route]) -> None:
    """Add ``routes`` to ``app`` (route names ``<area>_<handler>``, unique per app)."""
    for route in routes:
        area = route.handler.__module__.rsplit(".", 1)[-1]
        app.add_route(route.handler, route.uri, methods=[route.method], name=f"{area}_{route.handler.__name__}")


def deps(request: Request) -> StaffDeps:
    """The dependencies of the app serving ``request``."""
    return request.app.ctx.deps


def staff(request: Request) -> str:
    """Who is acting: the identity the front door authenticated (never a name from the request)."""
    return request.ctx.staff


def error(status: int, code: str, message: str) -> HTTPResponse:
    """The JSON error every staff route answers with: a machine code and a Vietnamese message."""
    return json({"error": code, "message": message}, status=status)


def body(request: Request) -> dict:
    """The JSON object sent with ``request``; {} for a malformed body or any other JSON value."""
    try:
        data = request.json
    except Exception:  # malformed JSON
        return {}
    return data if isinstance(data, dict) else {}


async def audit(request: Request, action: str, key: str | None = None, detail: str | None = None) -> None:
    """Record ``action`` by the acting officer in the audit log, when the app keeps one (keys are masked there)."""
    log = deps(request).audit
    if log is not None:
        await asyncio.to_thread(log.record, staff(request), action, key, detail)


async def health(request: Request) -> HTTPResponse:
    """Liveness for process managers and tests; open on both front doors."""
    return json({"status": "ok"})
