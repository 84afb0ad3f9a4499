#!/usr/bin/env python3
"""A fake Zalo OpenAPI + OAuth server on loopback, and a signed-webhook sender, for tests and local trials.

Stdlib only (runs in either venv). It speaks the two Zalo calls the channel uses:

* ``POST /v3.0/oa/message/cs`` (header ``access_token``; JSON ``{"recipient":{"user_id"},"message":{"text"}}``)
  → ``{"error": 0, "message": "Success", "data": {"message_id", "user_id"}}``, or ``{"error": -216, ...}`` when the
  access token is not the current one.
* ``POST /v3.0/oa/message/transaction`` (header ``access_token``; JSON ``{"recipient":{"user_id"},"message":
  {"attachment":{"type":"template","payload":{"template_type":"transaction_...","language","elements":[...],
  "buttons"?}}}}``): the transaction (template) message an OA may send outside the consultation window; same
  answers as above.
* ``GET /v2.0/oa/conversation?data={"user_id","offset","count"}`` (header ``access_token``): the OA's conversation
  with one user, newest first, ``count`` at most 10 (else error -210): ``{"error": 0, "message": "Success", "data":
  [{"src": 0, "time": <ms>, "type": "text"|"template", "message", "message_id", "from_id", "to_id"}]}`` — every
  message the fake accepted for that user (``src`` 0: sent by the OA). A transaction message is listed with type
  "template" and its text element as ``message`` (how real Zalo lists template messages is not verified).
* ``POST /v4/oa/access_token`` (header ``secret_key``; form ``refresh_token, app_id, grant_type=refresh_token``)
  → a NEW access/refresh token pair; the used refresh token stops working (Zalo's refresh tokens are single-use).

Every request is recorded. Tests drive it in-process (``expire_access_token()``, ``outage()``, ``fail_next()``);
``GET /__fake/requests`` shows the record to a human.

Command line::

    python tests/fakes/zalo_api_server.py serve --port 8091            # prints the env vars for `make run`
    python tests/fakes/zalo_api_server.py send --rasa-url http://localhost:5005 --user 100 "xin chào"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

SEND_PATH = "/v3.0/oa/message/cs"
TRANSACTION_PATH = "/v3.0/oa/message/transaction"
REFRESH_PATH = "/v4/oa/access_token"
CONVERSATION_PATH = "/v2.0/oa/conversation"
OA_ID = "4321098765432109876"
MAX_HISTORY_COUNT = 10
INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    status: int = 0
    answer: Any = None
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        """The body as JSON (None if it is not JSON)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    @property
    def form(self) -> Dict[str, str]:
        """The body as a url-encoded form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


class FakeZaloServer:
    """The fake server; ``start()`` serves it on a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = "1234567890123456789",
        secret_key: str = "fake-oa-secret",
        access_token: str = "fake-access-0",
        refresh_token: str = "fake-refresh-0",
        clock=time.time,
    ) -> None:
        """Configure the credentials the fake accepts; ``clock`` (epoch seconds) stamps the conversation history."""
        self.host, self.port = host, port
        self.app_id, self.secret_key = app_id, secret_key
        self.access_token, self.refresh_token = access_token, refresh_token
        self.requests: List[Recorded] = []
        self.lock = threading.Condition()
        self._outage: List[int] = []  # HTTP statuses to answer the next send calls with
        self._failures: List[Dict[str, Any]] = []  # Zalo error answers for the next send calls
        self._generation = 0
        self.clock = clock
        self.history: Dict[str, List[Dict[str, Any]]] = {}  # user id -> messages the fake accepted, oldest first
        self.history_status = 200  # another status: the conversation history is unavailable (answered with it)
        self._server: Optional[ThreadingHTTPServer] = None

    # --- control -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL (use for both ZALO_API_BASE and ZALO_OAUTH_BASE)."""
        return f"http://{self.host}:{self.port}"

    def expire_access_token(self) -> None:
        """The current access token stops working (as after its 25-hour lifetime)."""
        with self.lock:
            self.access_token = f"expired-{self._generation}-{time.time_ns()}"

    def outage(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` send calls with HTTP ``status`` (0 = drop the connection)."""
        with self.lock:
            self._outage = [status] * count

    def fail_next(self, error: int, message: str, count: int = 1) -> None:
        """Answer the next ``count`` send calls with a Zalo error code (HTTP 200)."""
        with self.lock:
            self._failures = [{"error": error, "message": message}] * count

    def reset(self) -> None:
        """Clear recorded requests and scheduled failures."""
        with self.lock:
            self.requests.clear()
            self.history.clear()
            self._outage.clear()
            self._failures.clear()

    def calls(self, path: str) -> List[Recorded]:
        """Recorded requests to ``path``."""
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def delivered(self, user_id: Optional[str] = None) -> List[str]:
        """Texts successfully delivered (optionally to one user), in order."""
        out = []
        for rec in self.calls(SEND_PATH):
            body = rec.json or {}
            if rec.status == 200 and isinstance(rec.answer, dict) and rec.answer.get("error") == 0:
                if user_id is None or body.get("recipient", {}).get("user_id") == user_id:
                    out.append(body.get("message", {}).get("text", ""))
        return out

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:
        """Block until ``predicate(self)`` is true (re-checked after each request) or the timeout passes."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self.lock:
                self.lock.wait(min(remaining, 0.5))
        return True

    # --- protocol ----------------------------------------------------------------------------

    def transactions(self, user_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """Template payloads of the transaction messages successfully delivered (optionally to one user)."""
        out = []
        for rec in self.calls(TRANSACTION_PATH):
            body = rec.json or {}
            if rec.status == 200 and isinstance(rec.answer, dict) and rec.answer.get("error") == 0:
                if user_id is None or body.get("recipient", {}).get("user_id") == user_id:
                    out.append(body["message"]["attachment"]["payload"])
        return out

    def _gate(self, rec: Recorded) -> Optional[tuple]:
        """The scheduled outage / failure or the token check, shared by both send calls (None: go on)."""
        with self.lock:
            if self._outage:
                return self._outage.pop(0), {"error": -32, "message": "Service temporarily unavailable"}
            if rec.headers.get("access_token") != self.access_token:
                return 200, dict(INVALID_TOKEN)
            if self._failures:
                return 200, self._failures.pop(0)
        return None

    def oa_sent(self, user_id: str, text: str, kind: str = "text") -> str:
        """Record a message the OA sent to ``user_id`` in their conversation history (also one sent outside the
        API, e.g. by an officer in the OA's chat manager); its message id."""
        msg_id = hashlib.sha1(f"{user_id}{text}{time.time_ns()}".encode()).hexdigest()
        with self.lock:
            self.history.setdefault(user_id, []).append({
                "src": 0, "time": int(self.clock() * 1000), "type": kind, "message": text, "message_id": msg_id,
                "from_id": OA_ID, "to_id": user_id})
        return msg_id

    def _ok(self, user_id: str, text: str, kind: str = "text") -> tuple:
        """Accept a message: recorded in the user's conversation history, Zalo's success answer."""
        msg_id = self.oa_sent(user_id, text, kind)
        return 200, {"error": 0, "message": "Success", "data": {"message_id": msg_id, "user_id": user_id}}

    def _conversation(self, headers: Dict[str, str], query: str) -> tuple:
        """``GET /v2.0/oa/conversation``: one page of the OA's conversation with a user, newest first."""
        with self.lock:
            if self.history_status != 200:
                return self.history_status, {"error": -32, "message": "Service temporarily unavailable"}
            if headers.get("access_token") != self.access_token:
                return 200, dict(INVALID_TOKEN)
        try:
            data = json.loads(parse_qs(query).get("data", ["{}"])[0])
            user_id, offset, count = str(data["user_id"]), int(data.get("offset", 0)), int(data.get("count", 5))
        except (ValueError, KeyError, TypeError):
            return 200, {"error": -201, "message": "Parameters invalid: data"}
        if not 0 < count <= MAX_HISTORY_COUNT or offset < 0:
            return 200, {"error": -210, "message": "Parameters invalid: count must be 1..10"}
        with self.lock:
            newest_first = list(reversed(self.history.get(user_id, [])))
        return 200, {"error": 0, "message": "Success", "data": newest_first[offset:offset + count]}

    def _send_transaction(self, rec: Recorded) -> tuple:
        gated = self._gate(rec)
        if gated:
            return gated
        body = rec.json if isinstance(rec.json, dict) else {}
        user_id = (body.get("recipient") or {}).get("user_id")
        attachment = (body.get("message") or {}).get("attachment") or {}
        payload = attachment.get("payload") or {}
        elements = payload.get("elements")
        if not isinstance(user_id, str) or not user_id:
            return 200, {"error": -201, "message": "Parameters invalid: recipient.user_id"}
        if attachment.get("type") != "template" or not str(payload.get("template_type", "")).startswith(
                "transaction_"):
            return 200, {"error": -201, "message": "Parameters invalid: message.attachment.payload.template_type"}
        if not isinstance(elements, list) or not elements or not all(
                isinstance(e, dict) and e.get("type") in ("banner", "header", "text", "table") for e in elements):
            return 200, {"error": -201, "message": "Parameters invalid: message.attachment.payload.elements"}
        text = next((e.get("content") for e in elements if e.get("type") == "text"), "")
        return self._ok(user_id, text, "template")

    def _send_message(self, rec: Recorded) -> tuple:
        gated = self._gate(rec)
        if gated:
            return gated
        body = rec.json
        user_id = (body or {}).get("recipient", {}).get("user_id") if isinstance(body, dict) else None
        text = (body or {}).get("message", {}).get("text") if isinstance(body, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return 200, {"error": -201, "message": "Parameters invalid: recipient.user_id"}
        if not isinstance(text, str) or not text or len(text) > 2000:
            return 200, {"error": -201, "message": "Parameters invalid: message.text"}
        return self._ok(user_id, text)

    def _refresh(self, rec: Recorded) -> tuple:
        form = rec.form
        with self.lock:
            if rec.headers.get("secret_key") != self.secret_key:
                return 200, {"error": -14001, "error_name": "Invalid secret key", "error_reason": "secret_key"}
            if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
                return 200, {"error": -14002, "error_name": "Invalid parameter", "error_reason": "app_id/grant_type"}
            if form.get("refresh_token") != self.refresh_token:
                return 200, {"error": -14014, "error_name": "Invalid refresh token", "error_reason": "expired/used"}
            self._generation += 1
            self.access_token = f"fake-access-{self._generation}"
            self.refresh_token = f"fake-refresh-{self._generation}"
            return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}

    def _handler(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "FakeZalo/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, method: str) -> Recorded:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                return Recorded(method, self.path.split("?", 1)[0], headers, body)

            def do_POST(self) -> None:
                rec = self._record("POST")
                if rec.path == SEND_PATH:
                    status, answer = fake._send_message(rec)
                elif rec.path == TRANSACTION_PATH:
                    status, answer = fake._send_transaction(rec)
                elif rec.path == REFRESH_PATH:
                    status, answer = fake._refresh(rec)
                else:
                    status, answer = 404, {"error": -404, "message": "not found"}
                rec.status, rec.answer = status, answer
                with fake.lock:
                    fake.requests.append(rec)
                    fake.lock.notify_all()
                if status == 0:
                    self.close_connection = True
                    self.connection.close()
                    return
                self._answer(status, answer)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == CONVERSATION_PATH:
                    rec = Recorded("GET", path, {k.lower(): v for k, v in self.headers.items()}, query.encode())
                    rec.status, rec.answer = fake._conversation(rec.headers, query)
                    with fake.lock:
                        fake.requests.append(rec)
                        fake.lock.notify_all()
                    self._answer(rec.status, rec.answer)
                elif self.path.startswith("/__fake/requests"):
                    with fake.lock:
                        rows = [
                            {"path": r.path, "status": r.status, "body": r.json or r.form, "answer": r.answer}
                            for r in fake.requests
                        ]
                    self._answer(200, rows)
                else:
                    self._answer(200 if self.path == "/__fake/health" else 404, {"status": "ok"})

        return Handler

    def start(self) -> "FakeZaloServer":
        """Serve on a daemon thread; returns self."""
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- wiring a Rasa server to the fake ----------------------------------------------------------------


def rasa_env(fake: FakeZaloServer) -> Dict[str, str]:
    """The ZALO_* environment variables that point the channel at ``fake``."""
    return {
        "ZALO_APP_ID": fake.app_id,
        "ZALO_OA_SECRET_KEY": fake.secret_key,
        "ZALO_ACCESS_TOKEN": fake.access_token,
        "ZALO_REFRESH_TOKEN": fake.refresh_token,
        "ZALO_API_BASE": fake.url,
        "ZALO_OAUTH_BASE": fake.url,
    }


def credentials_yaml(token_store_path: str, action_health_url: str, **extra: Any) -> str:
    """A ``credentials.yml`` section enabling the channel with ``${ZALO_...}`` placeholders (as `make run` does)."""
    lines = ["channels.zalo.ZaloInput:"]
    for key, env in (("app_id", "ZALO_APP_ID"), ("oa_secret_key", "ZALO_OA_SECRET_KEY"),
                     ("access_token", "ZALO_ACCESS_TOKEN"), ("refresh_token", "ZALO_REFRESH_TOKEN"),
                     ("api_base", "ZALO_API_BASE"), ("oauth_base", "ZALO_OAUTH_BASE")):
        lines.append(f"  {key}: ${{{env}}}")
    lines.append(f'  token_store_path: "{token_store_path}"')
    lines.append(f'  action_health_url: "{action_health_url}"')
    # Accepted event ids next to the token file (they survive a Rasa restart); health details for the API token.
    lines.append(f'  seen_store: "{Path(token_store_path).with_name("zalo_seen.db")}"')
    lines.append("  health_token: ${RASA_API_TOKEN}")
    lines.extend(f"  {key}: {json.dumps(value)}" for key, value in extra.items())
    return "\n".join(lines) + "\n"


# --- the Zalo side of the webhook ------------------------------------------------------------------


def sign(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """What Zalo puts in ``X-ZEvent-Signature`` (independent of the channel's own implementation)."""
    return "mac=" + hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret_key.encode()).hexdigest()


def user_event(app_id: str, user_id: str, event_name: str, message: Dict[str, Any], msg_id: Optional[str] = None,
               timestamp_ms: Optional[int] = None) -> Dict[str, Any]:
    """A webhook body for a message the user sent, shaped like Zalo's (ids and timestamp are strings)."""
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {
        "app_id": app_id,
        "user_id_by_app": "55" + user_id[-10:],
        "event_name": event_name,
        "timestamp": ts,
        "sender": {"id": user_id},
        "recipient": {"id": "4321098765432109876"},
        "message": {**message, "msg_id": msg_id or hashlib.md5(f"{user_id}{time.time_ns()}".encode()).hexdigest()},
    }


def text_event(app_id: str, user_id: str, text: str, msg_id: Optional[str] = None,
               timestamp_ms: Optional[int] = None) -> Dict[str, Any]:
    """A ``user_send_text`` webhook body."""
    return user_event(app_id, user_id, "user_send_text", {"text": text}, msg_id, timestamp_ms)


def sticker_event(app_id: str, user_id: str, msg_id: Optional[str] = None) -> Dict[str, Any]:
    """A ``user_send_sticker`` webhook body (the channel answers it with a fixed reply, without Rasa)."""
    sticker = {"attachments": [{"type": "sticker", "payload": {"id": "e2e", "url": "https://zalo.example/s.png"}}]}
    return user_event(app_id, user_id, "user_send_sticker", sticker, msg_id)


def post_event(webhook_url: str, event: Dict[str, Any], app_id: str, secret_key: str,
               signature: Optional[str] = None, timeout: float = 10.0) -> tuple:
    """POST one signed event like Zalo does; returns (HTTP status, JSON answer)."""
    raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
    sig = signature if signature is not None else sign(app_id, raw, str(event.get("timestamp", "")), secret_key)
    req = urllib.request.Request(
        webhook_url, data=raw, method="POST",
        headers={"Content-Type": "application/json", "X-ZEvent-Signature": sig},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def main(argv: Optional[List[str]] = None) -> int:
    """CLI: ``serve`` the fake, or ``send`` a signed text event to a Rasa server's Zalo webhook."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the fake Zalo API")
    serve.add_argument("--port", type=int, default=8091)
    send = sub.add_parser("send", help="send a signed user_send_text event")
    send.add_argument("--rasa-url", default="http://localhost:5005")
    send.add_argument("--user", default="1000000000000000001")
    send.add_argument("text")
    for p in (serve, send):
        p.add_argument("--app-id", default="1234567890123456789")
        p.add_argument("--secret-key", default="fake-oa-secret")
    args = parser.parse_args(argv)
    if args.cmd == "send":
        event = text_event(args.app_id, args.user, args.text)
        status, answer = post_event(args.rasa_url.rstrip("/") + "/webhooks/zalo/webhook", event,
                                    args.app_id, args.secret_key)
        print(status, json.dumps(answer, ensure_ascii=False))
        return 0 if status == 200 else 1
    fake = FakeZaloServer(port=args.port, app_id=args.app_id, secret_key=args.secret_key).start()
    print(f"Fake Zalo API on {fake.url}. For `make run`:\n"
          f"  export ZALO_APP_ID={fake.app_id} ZALO_OA_SECRET_KEY={fake.secret_key} "
          f"ZALO_ACCESS_TOKEN={fake.access_token} ZALO_REFRESH_TOKEN={fake.refresh_token} "
          f"ZALO_API_BASE={fake.url} ZALO_OAUTH_BASE={fake.url}\n"
          f"Delivered messages: {fake.url}/__fake/requests", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
