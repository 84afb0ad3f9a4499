"""The scaled profile's nginx (deploy/nginx/scaled.conf.template as rendered by deploy/scaled_profile.py): a
per-client request limit on the chat webhooks, and the client's own address in X-Real-IP for the Rasa replicas.

The real nginx in front of a local stand-in for the Rasa replica that records what reaches it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from deploy.scaled_profile import ScaledProfile


class Upstream:
    """Answers every request with 200 and records its path and X-Real-IP / X-Forwarded-For headers."""

    def __init__(self) -> None:
        self.seen: list = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                upstream.seen.append((self.path, self.headers.get("X-Real-IP"), self.headers.get("X-Forwarded-For")))
                body = json.dumps([{"recipient_id": "x", "text": "Xin chào!"}]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server API

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nginx(tmp_path):
    upstream = Upstream()
    profile = ScaledProfile(tmp_path / "scaled", replicas=1, rasa_ports=[upstream.port], webhook_rate="1r/m",
                            webhook_burst=3)
    profile.write_config()
    profile.start_nginx()
    try:
        yield profile, upstream
    finally:
        profile.stop()
        upstream.stop()


def test_webhooks_are_limited_per_client_and_the_rest_is_not(nginx):
    profile, upstream = nginx
    body = {"sender": "web-khach", "message": "xin chào"}
    statuses = [requests.post(profile.rest_url, json=body, timeout=10).status_code for _ in range(8)]
    assert statuses == [200, 200, 200, 200, 429, 429, 429, 429]  # the first request + a burst of 3
    # The staff API's /conversations/... calls, the (signed) Zalo webhook and nginx's health go on.
    assert requests.get(f"{profile.url}/conversations/web-khach/tracker", timeout=10).status_code == 200
    assert requests.post(f"{profile.url}/webhooks/zalo/webhook", json={}, timeout=10).status_code == 200
    assert requests.get(f"{profile.url}/nginx-health", timeout=10).status_code == 200
    assert [path for path, _, _ in upstream.seen].count("/webhooks/rest/webhook") == 4


def test_the_replica_gets_the_client_address_not_a_forged_one(nginx):
    profile, upstream = nginx
    requests.post(profile.rest_url, json={"sender": "web-1", "message": "xin chào"},
                  headers={"X-Real-IP": "198.51.100.1", "X-Forwarded-For": "198.51.100.2"}, timeout=10)
    assert upstream.seen[-1][1] == "127.0.0.1"
    assert upstream.seen[-1][2] == "198.51.100.2, 127.0.0.1"  # the right-most hop is nginx's own view
    assert profile.env["TRUSTED_PROXIES"] == "127.0.0.1"
