"""A fake Rasa HTTP API on loopback that records the calls the staff API makes (execute, tracker events).

Authenticates like ``rasa run --enable-api --jwt-secret=<token>``: an ``Authorization: Bearer <JWT>`` header
signed (HS256) with the secret, of an admin user, not expired; a ``?token=`` in the URL is not accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_server import LoopbackServer


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_admin_ok(header_value: str | None, secret: str) -> bool:
    """Whether ``Authorization`` holds a valid, unexpired HS256 JWT of an admin signed with ``secret``."""
    scheme, _, token = (header_value or "").partition(" ")
    parts = token.split(".")
    if scheme != "Bearer" or len(parts) != 3:
        return False
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64decode(parts[2])):
            return False
        header, payload = json.loads(_b64decode(parts[0])), json.loads(_b64decode(parts[1]))
    except ValueError:
        return False
    return (header.get("alg") == "HS256" and payload.get("exp", 0) > time.time()
            and payload.get("user", {}).get("role") == "admin")


class FakeRasaServer(LoopbackServer):
    """Answers ``POST /conversations/{id}/execute`` and ``/tracker/events`` like Rasa does (200 + tracker)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.calls: list[dict] = []
        self.fail = False
        super().__init__(self._handler())

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                fake.calls.append({"path": parts.path, "query": query, "body": body})
                if fake.fail:
                    status, payload = 500, {"status": "failure"}
                elif fake.token and not jwt_admin_ok(self.headers.get("Authorization"), fake.token):
                    status, payload = 401, {"status": "failure", "reason": "NotAuthenticated"}
                else:
                    sender = parts.path.split("/")[2]
                    status, payload = 200, {"tracker": {"sender_id": sender, "events": []}, "messages": []}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
