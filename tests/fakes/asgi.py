"""Drive a Sanic app in-process over ASGI (no sockets): its startup runs first, as a real server's would."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def _lifespan_startup(app: Any) -> asyncio.Task:
    """Send the ASGI lifespan startup to ``app`` and wait until it completes; the task runs until shutdown."""
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
    task.to_app = to_app  # type: ignore[attr-defined]
    return task


def asgi_request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to a Sanic ``app`` (started first), e.g. ``asgi_request(app, "GET", "/health")``."""

    async def go() -> httpx.Response:
        lifespan = await _lifespan_startup(app)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
                return await client.request(method, path, **kwargs)
        finally:
            lifespan.cancel()

    return asyncio.run(go())
