"""Fixtures shared by the Rasa-venv tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fake():
    """A fake Zalo OA server on loopback that knows the test channel's app id and OA secret
    (tests/fakes/zalo_channel.py builds the channel talking to it)."""
    from tests.fakes.zalo_api_server import FakeZaloServer
    from tests.fakes.zalo_channel import APP_ID, SECRET

    server = FakeZaloServer(app_id=APP_ID, secret_key=SECRET).start()
    yield server
    server.stop()
