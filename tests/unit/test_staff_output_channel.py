"""Which Rasa output channel the staff API uses to push an officer's reply to each kind of citizen."""

from __future__ import annotations

import base64
import json

import pytest

from staff_api.rasa_client import RasaClient, RasaError, output_channel_for, rasa_api_jwt
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
                           "query": {"output_channel": output_channel},
                           "body": {"name": "action_deliver_staff_reply"}}]


def test_rasa_api_secret_travels_only_as_a_signed_header_never_in_the_url():
    """Rasa 3.6 reads ``?token=`` from URLs (logged by proxies); the client signs a short-lived JWT instead."""
    secret = "rasa-api-secret-0123456789abcdef"
    with FakeRasaServer(token=secret) as rasa:
        RasaClient(rasa.url, secret).resume("web-abc")
        with pytest.raises(RasaError):
            RasaClient(rasa.url, "a-wrong-secret-0123456789abcdef").resume("web-abc")
    assert [call["query"] for call in rasa.calls] == [{}, {}]
    header, payload, _ = rasa_api_jwt(secret, now=1_000).split(".")
    assert secret not in base64.urlsafe_b64decode(payload + "==").decode()
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {
        "user": {"username": "staff_api", "role": "admin"}, "iat": 1_000, "exp": 1_300}
