"""A fake one-stop system implementing docs/openapi/one-stop-status.yaml on a loopback port, for tests.

Holds applications in memory (with the applicant's phone and ID number for verification), checks the
bearer token, and can inject faults: the next N requests fail with a status code or hang for a while.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from core.status.base import verification_matches
from core.status.models import ApplicationStatus
from tests.fakes.http_server import LoopbackServer

_CODE_RE = re.compile(r"^[A-Z]\d{2}\.\d{2}-\d{6}-\d{4}$")


class FakeOneStopServer(LoopbackServer):
    """``with FakeOneStopServer(token="t") as server: server.url`` — a running fake on a free port."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.applications: dict[str, tuple[ApplicationStatus, str, str]] = {}
        self.requests: list[dict] = []
        self._faults: list[tuple[str, float]] = []  # ("status", code) or ("delay", seconds)
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def add(self, app: ApplicationStatus, phone: str, id_number: str) -> None:
        """Make an application known to the fake."""
        self.applications[app.code] = (app, phone, id_number)

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests answer ``status``."""
        with self._lock:
            self._faults.extend([("status", float(status))] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """The next ``count`` requests wait ``seconds`` before answering."""
        with self._lock:
            self._faults.extend([("delay", seconds)] * count)

    def _next_fault(self) -> tuple[str, float] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: dict | None) -> None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                fake.requests.append({"path": self.path, "headers": dict(self.headers)})
                fault = fake._next_fault()
                if fault and fault[0] == "delay":
                    time.sleep(fault[1])
                elif fault:
                    self._send(int(fault[1]), {"error": "unavailable"})
                    return
                if self.path == "/api/v1/health":
                    self._send(200, {"status": "ok"})
                    return
                if fake.token is not None:
                    given = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(given.encode(), f"Bearer {fake.token}".encode()):
                        self._send(401, {"error": "unauthorized"})
                        return
                prefix = "/api/v1/applications/"
                if not self.path.startswith(prefix):
                    self._send(404, {"error": "not_found", "message": "Không tìm thấy hồ sơ phù hợp."})
                    return
                code = unquote(self.path[len(prefix):])
                factor = self.headers.get("X-Verification", "")
                if not _CODE_RE.match(code) or not re.fullmatch(r"\d{4}", factor):
                    self._send(400, {"error": "bad_request", "message": "Mã hồ sơ hoặc mã xác minh không hợp lệ."})
                    return
                entry = fake.applications.get(code)
                ok = verification_matches(factor, entry[1] if entry else None, entry[2] if entry else None)
                if entry is None or not ok:
                    self._send(404, {"error": "not_found", "message": "Không tìm thấy hồ sơ phù hợp."})
                    return
                self._send(200, entry[0].to_dict())

        return Handler
