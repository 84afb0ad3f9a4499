"""Rasa sends the action server's shared token (ACTION_SERVER_TOKEN) with every action call, in a header.

Both profiles' endpoint files are read by Rasa's own reader (which expands ``${...}`` from the environment) and
the resulting request is captured by a local HTTP server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from rasa.utils.endpoints import read_endpoint_config

from deploy.scaled_profile import ScaledProfile

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "rasa-side-token-7d2e"


async def captured_headers(endpoint) -> dict:
    """Start a local server, point ``endpoint`` at it, make Rasa's action call; the headers it received."""
    seen: dict = {}

    async def webhook(request: web.Request) -> web.Response:
        seen.update(request.headers)
        seen["query"] = dict(request.query)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        endpoint.url = f"http://127.0.0.1:{port}/webhook"
        await endpoint.request(json={"next_action": "action_check_status"}, method="post")
    finally:
        await runner.cleanup()
    return seen


@pytest.mark.parametrize("profile", ["embedded", "scaled"])
def test_action_calls_carry_the_token_in_a_header(monkeypatch, tmp_path, profile):
    monkeypatch.setenv("ACTION_SERVER_TOKEN", TOKEN)
    if profile == "embedded":
        path = ROOT / "endpoints.yml"
    else:
        ScaledProfile(tmp_path, replicas=1).write_config()
        path = tmp_path / "endpoints.yml"
    endpoint = read_endpoint_config(str(path), "action_endpoint")
    seen = asyncio.run(captured_headers(endpoint))
    assert seen["Authorization"] == f"Bearer {TOKEN}"
    assert seen["query"] == {}  # never in the URL (proxies log URLs)
