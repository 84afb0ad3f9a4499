"""Drive a Sanic app in-process over ASGI (no sockets, no extra packages: works in both venvs).

The app's startup (lifespan) runs first, as a real server's would; then one HTTP request goes through it.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass, field
from typing import Any, Dict, Optional
from urllib.parse import urlencode


@dataclass
class AsgiResponse:
    """Status, headers (lower-case names) and body of one response."""

    status_code: int
    headers: Dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


async def _lifespan_startup(app: Any) -> asyncio.Task:
    """Send the ASGI lifespan startup to ``app`` and wait until it completes; the task runs until cancelled."""
    started = asyncio.Event()
    to_app: asyncio.Queue = asyncio.Queue()
    await to_app.put({"type": "lifespan.startup"})

    async def send(message: dict) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise RuntimeError(message.get("message", "startup failed"))

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, to_app.get, send))
    await asyncio.wait_for(started.wait(), 10)
    return task


async def _http(app: Any, method: str, path: str, headers: Dict[str, str], body: bytes,
                query: str, client: tuple) -> AsgiResponse:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method.upper(),
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "server": ("app.test", 80), "client": client,
        "headers": [(b"host", b"app.test")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent = {"done": False}

    async def receive() -> dict:
        if not sent["done"]:
            sent["done"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = AsgiResponse(0)
    chunks = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            response.status_code = message["status"]
            response.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    response.content = b"".join(chunks)
    return response


def asgi_request(app: Any, method: str, path: str, *, json: Any = None, headers: Optional[Dict[str, str]] = None,
                 params: Optional[Dict[str, str]] = None, client: tuple = ("127.0.0.1", 50000)) -> AsgiResponse:
    """One request to a Sanic ``app`` (started first), e.g. ``asgi_request(app, "GET", "/health")``."""
    headers = dict(headers or {})
    body = b""
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("content-type", "application/json")
    headers["content-length"] = str(len(body))

    async def go() -> AsgiResponse:
        lifespan = await _lifespan_startup(app)
        try:
            return await _http(app, method, path, headers, body, urlencode(params or {}), client)
        finally:
            lifespan.cancel()

    return asyncio.run(go())
