"""Caller authentication of the action server: only the Rasa server (which holds ACTION_SERVER_TOKEN) runs actions.

Rasa sends ``Authorization: Bearer <token>`` with every action call (``action_endpoint.headers`` in
endpoints.yml, the value taken from the environment). The action server's plugin (``rasa_sdk_plugins``) calls
:func:`attach` with its Sanic app: every route except the health probes answers 401 without the right token, 503
when no token is configured (fail closed), and the server listens on ``ACTION_SERVER_HOST`` (loopback by default).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Callable, Optional

logger = logging.getLogger(__name__)

# Probes used by the REST and Zalo channels, nginx and the run scripts: they reveal no conversation data.
OPEN_ROUTES = frozenset({"/health", "/health/knowledge"})
AUTH_SCHEME = "Bearer"


def bearer_token(header_value: Optional[str]) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value ("" when absent or another scheme)."""
    scheme, _, token = (header_value or "").strip().partition(" ")
    return token.strip() if scheme.lower() == AUTH_SCHEME.lower() else ""


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected token never matches (no token configured = closed)."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def _configured_token() -> str:
    from settings import get_settings

    return get_settings().action_server_token


def bind_host() -> str:
    """The address the action server listens on (rasa-sdk reads SANIC_HOST after its plugins ran)."""
    from settings import get_settings

    host = get_settings().action_server_host
    os.environ["SANIC_HOST"] = host
    return host


def attach(app, token: Optional[Callable[[], str]] = None) -> None:
    """Require the shared token on every action-server route except :data:`OPEN_ROUTES`."""
    expected_token = token or _configured_token

    @app.listener("before_server_start")
    async def _warn_when_unconfigured(_app, _loop) -> None:
        if not expected_token():
            logger.error("ACTION_SERVER_TOKEN is not set: every action call will be refused (HTTP 503). "
                         "`make run` generates it into var/action_server_token.")

    @app.on_request
    async def _require_token(request):
        from sanic import response

        if request.path in OPEN_ROUTES and request.method in ("GET", "HEAD"):
            return None
        expected = expected_token()
        if not expected:
            return response.json({"error": "action server token not configured"}, status=503)
        if not token_matches(bearer_token(request.headers.get("authorization")), expected):
            logger.warning("Refused an unauthenticated %s %s from %s.", request.method, request.path, request.ip)
            return response.json({"error": "unauthorized"}, status=401,
                                 headers={"WWW-Authenticate": AUTH_SCHEME})
        return None
