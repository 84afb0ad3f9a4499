"""A fake one-stop system implementing docs/openapi/one-stop-status.yaml on a loopback port, for tests.

Holds applications in memory (with the applicant's phone and ID number for verification), checks the
bearer token, and can inject faults: the next N requests fail with a status code or hang for a while.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from core.notifications.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from core.status.base import verification_matches
from core.status.models import ApplicationStatus, StatusEvent
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

    def set_status(self, code: str, status: str, at: datetime, **fields) -> dict:
        """Move application ``code`` to ``status`` at ``at`` (``fields``: result_pickup, missing_documents,
        rejection_reason); the status event the one-stop system would send (webhook body, no personal data)."""
        app, phone, id_number = self.applications[code]
        old = app.status
        app = dataclasses.replace(app, status=status, status_since=at,
                                  history=[*app.history, StatusEvent(status, at, app.agency)], **fields)
        self.applications[code] = (app, phone, id_number)
        return {"event_id": f"evt-{uuid.uuid4().hex}", **status_item(app), "old_status": old}

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

            def _admit(self) -> bool:
                """Record the request, apply a scheduled fault, check the token; False when answered already."""
                fake.requests.append({"path": self.path, "headers": dict(self.headers)})
                fault = fake._next_fault()
                if fault and fault[0] == "delay":
                    time.sleep(fault[1])
                elif fault:
                    self._send(int(fault[1]), {"error": "unavailable"})
                    return False
                if self.path == "/api/v1/health":
                    return True
                if fake.token is not None:
                    given = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(given.encode(), f"Bearer {fake.token}".encode()):
                        self._send(401, {"error": "unauthorized"})
                        return False
                return True

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self._admit():
                    return
                if self.path != "/api/v1/applications/statuses":
                    self._send(404, {"error": "not_found"})
                    return
                try:
                    codes = json.loads(raw)["codes"]
                except (ValueError, KeyError, TypeError):
                    codes = None
                if not isinstance(codes, list) or len(codes) > 500:
                    self._send(400, {"error": "bad_request", "message": "Danh sách mã hồ sơ không hợp lệ."})
                    return
                found = [status_item(fake.applications[c][0]) for c in codes if c in fake.applications]
                self._send(200, {"applications": found})

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if not self._admit():
                    return
                if self.path == "/api/v1/health":
                    self._send(200, {"status": "ok"})
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


def status_item(app: ApplicationStatus) -> dict:
    """What the contract's status list (and its webhook) says about an application: no name, phone or ID number."""
    return {"code": app.code, "status": app.status, "changed_at": app.status_since.isoformat(), "agency": app.agency,
            "procedure_name": app.procedure_name, "missing_documents": list(app.missing_documents),
            "result_pickup": app.result_pickup, "rejection_reason": app.rejection_reason}


def send_webhook(url: str, secret: str, event: dict, *, timestamp: int | None = None,
                 signature: str | None = None) -> tuple[int, dict]:
    """POST ``event`` signed like the one-stop system does; (HTTP status, JSON answer)."""
    raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: signature if signature is not None else sign(secret, stamp, raw)}
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
