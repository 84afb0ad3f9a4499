"""Rasa's HTTP API as `make run` starts it (``--jwt-secret``, a CORS allow-list): the API secret is accepted only
as a signed JWT in the Authorization header, never as ``?token=`` in the URL, and only listed origins get CORS.

Rasa's real Sanic app (``rasa.server.create_app``) driven in-process over ASGI; no model is loaded, so an
authenticated call answers 409 ("no agent") where an unauthenticated one answers 401.
"""

from __future__ import annotations

import pytest
from rasa.server import create_app
from sanic import Sanic

from staff_api.rasa_client import rasa_api_jwt, rasa_auth_headers
from tests.fakes.asgi import asgi_request

SECRET = "rasa-api-jwt-secret-0123456789abcdef"
PAGE = "http://127.0.0.1:8080"


@pytest.fixture
def rasa_app(monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)
    return create_app(jwt_secret=SECRET, cors_origins=[PAGE, "http://localhost:8080"])


def test_jwt_header_is_accepted(rasa_app):
    assert asgi_request(rasa_app, "GET", "/domain", headers=rasa_auth_headers(SECRET)).status_code == 409


@pytest.mark.parametrize("how", ["query token", "no header", "wrong secret", "expired"])
def test_everything_else_is_refused(rasa_app, how):
    kwargs = {
        "query token": {"params": {"token": SECRET}},
        "no header": {},
        "wrong secret": {"headers": rasa_auth_headers("another-secret-0123456789abcdef0")},
        "expired": {"headers": {"Authorization": f"Bearer {rasa_api_jwt(SECRET, now=1_000_000)}"}},
    }[how]
    assert asgi_request(rasa_app, "GET", "/domain", **kwargs).status_code == 401


def test_cors_answers_only_listed_origins(rasa_app):
    allowed = asgi_request(rasa_app, "GET", "/", headers={"Origin": PAGE})
    assert allowed.headers.get("access-control-allow-origin") == PAGE
    other = asgi_request(rasa_app, "GET", "/", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
