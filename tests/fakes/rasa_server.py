"""A fake Rasa HTTP API on loopback that records the calls the staff API and the web chat notifier make (execute,
tracker events, the story route that answers 404 for an unknown conversation) and keeps the events appended to each
conversation, which ``GET /conversations/{id}/tracker`` returns.

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
from urllib.parse import parse_qs, unquote, urlsplit

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
    """Answers ``POST /conversations/{id}/execute`` and ``/tracker/events`` like Rasa does (200 + tracker), and
    ``GET /conversations/{id}/story`` (200, or 404 when ``conversations`` is a set without the id), and
    ``GET /conversations/{id}/tracker`` (the events appended through ``/tracker/events``, stamped, oldest first).

    ``calls`` records the POSTs, ``reads`` the GETs (path); ``fail`` makes every call answer ``fail_status``.
    """

    def __init__(self, token: str | None = None, conversations: set[str] | None = None) -> None:
        self.token = token
        self.conversations = conversations  # None: every conversation exists
        self.calls: list[dict] = []
        self.reads: list[str] = []
        self.events: dict[str, list[dict]] = {}  # conversation id -> appended events
        self.fail = False
        self.fail_status = 500
        super().__init__(self._handler())

    def refusal(self, headers) -> tuple[int, dict] | None:
        """The status and body of a refused call (failing, or not authenticated), None when it is accepted."""
        if self.fail:
            return self.fail_status, {"status": "failure"}
        if self.token and not jwt_admin_ok(headers.get("Authorization"), self.token):
            return 401, {"status": "failure", "reason": "NotAuthenticated"}
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path = urlsplit(self.path).path
                fake.reads.append(path)
                parts = path.split("/")
                refused = fake.refusal(self.headers)
                if refused:
                    self.answer(*refused)
                elif len(parts) != 4 or parts[1] != "conversations" or parts[3] not in ("story", "tracker"):
                    self.answer(404, {"status": "failure", "reason": "NotFound"})
                elif fake.conversations is not None and unquote(parts[2]) not in fake.conversations:
                    self.answer(404, {"status": "failure", "reason": "Not found",
                                      "message": "Conversation ID not found."})
                elif parts[3] == "tracker":
                    sender = unquote(parts[2])
                    self.answer(200, {"sender_id": sender, "events": list(fake.events.get(sender, []))})
                else:
                    self.answer(200, "- story: conversation\n  steps: []\n", content_type="text/plain")

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                fake.calls.append({"path": parts.path, "query": query, "body": body})
                refused = fake.refusal(self.headers)
                if refused:
                    self.answer(*refused)
                else:
                    sender = unquote(parts.path.split("/")[2])
                    if parts.path.endswith("/tracker/events"):
                        appended = body if isinstance(body, list) else [body]
                        fake.events.setdefault(sender, []).extend({"timestamp": time.time(), **e} for e in appended)
                    self.answer(200, {"tracker": {"sender_id": sender, "events": []}, "messages": []})

            def answer(self, status: int, payload, content_type: str = "application/json") -> None:
                data = (json.dumps(payload) if content_type == "application/json" else payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
