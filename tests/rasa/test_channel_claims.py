"""A client cannot choose the channel its message is recorded under (issue 13, finding 4).

The REST channel's real blueprint in a Sanic app, driven in-process over ASGI; the message Rasa would process is
captured.
"""

from __future__ import annotations

import pytest
from sanic import Sanic

from channels.rest import ResilientRestInput
from tests.fakes.asgi import asgi_request


@pytest.fixture
def rest_app(monkeypatch):
    """A Sanic app with the REST channel mounted as Rasa mounts it; the messages handed to Rasa."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    channel = ResilientRestInput()

    async def actions_up():
        return True

    channel.action_server_is_up = actions_up
    seen = []

    async def on_new_message(message):
        seen.append(message)
        await message.output_channel.send_text_message(message.sender_id, "Tôi đã chuyển yêu cầu tới cán bộ.")

    app = Sanic("rest_claims")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    return app, seen


@pytest.mark.parametrize("claimed", ["zalo", "socketio", "facebook", "rest"])
def test_body_input_channel_is_ignored(rest_app, claimed):
    app, seen = rest_app
    resp = asgi_request(app, "POST", "/webhooks/rest/webhook",
                        json={"sender": "2512523625412515", "message": "tôi muốn gặp cán bộ", "input_channel": claimed})
    assert resp.status_code == 200, resp.text
    assert resp.json() == [{"recipient_id": "2512523625412515", "text": "Tôi đã chuyển yêu cầu tới cán bộ."}]
    assert [(m.sender_id, m.input_channel) for m in seen] == [("2512523625412515", "rest")]
