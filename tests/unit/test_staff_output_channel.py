"""Which Rasa output channel the staff API uses to push an officer's reply to each kind of citizen."""

from __future__ import annotations

import pytest

from staff_api.rasa_client import RasaClient, output_channel_for
from tests.fakes.rasa_server import FakeRasaServer


@pytest.mark.parametrize(
    ("ticket_channel", "output_channel"),
    [("rest", "socketio"), ("zalo", "zalo"), ("socketio", "socketio"), ("", "latest"), (None, "latest"),
     ("latest", "latest")],
)
def test_output_channel_for(ticket_channel, output_channel):
    assert output_channel_for(ticket_channel) == output_channel


@pytest.mark.parametrize(("ticket_channel", "output_channel"), [("rest", "socketio"), ("zalo", "zalo")])
def test_deliver_replies_executes_with_the_push_channel(ticket_channel, output_channel):
    with FakeRasaServer(token="t") as rasa:
        RasaClient(rasa.url, "t").deliver_replies("web-abc/1", ticket_channel)
    assert rasa.calls == [{"path": "/conversations/web-abc%2F1/execute",
                           "query": {"output_channel": output_channel, "token": "t"},
                           "body": {"name": "action_deliver_staff_reply"}}]
