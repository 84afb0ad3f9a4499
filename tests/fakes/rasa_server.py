"""A fake Rasa HTTP API on loopback that records the calls the staff API makes (execute, tracker events)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeRasaServer:
    """Answers ``POST /conversations/{id}/execute`` and ``/tracker/events`` like Rasa does (200 + tracker)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.calls: list[dict] = []
        self.fail = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the fake."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeRasaServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

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
                elif fake.token and query.get("token") != fake.token:
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
