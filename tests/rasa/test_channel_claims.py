"""A client cannot choose the channel its message is recorded under (issue 13, finding 4).

The REST channel's real blueprint in a Sanic app, driven in-process over ASGI; the message Rasa would process is
captured.
"""

from __future__ import annotations

import pytest
from sanic import Sanic

from channels.rest import BAD_SESSION_REPLY, ResilientRestInput
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


# ---- web sessions: a "web-" sender id is usable only with its session token (finding 3) ---------------------


def new_session(app) -> tuple:
    resp = asgi_request(app, "POST", "/webhooks/rest/session")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    body = resp.json()
    return body["sender"], body["session_token"]


def test_issued_session_posts_with_its_token(rest_app):
    app, seen = rest_app
    sender, token = new_session(app)
    assert sender.startswith("web-") and len(sender) == 36
    resp = asgi_request(app, "POST", "/webhooks/rest/webhook", headers={"X-Chat-Session": token},
                        json={"sender": sender, "message": "làm giấy khai sinh cần gì"})
    assert resp.status_code == 200, resp.text
    assert [(m.sender_id, m.text) for m in seen] == [(sender, "làm giấy khai sinh cần gì")]


def test_posting_as_someone_elses_web_session_is_refused(rest_app):
    app, seen = rest_app
    victim, _ = new_session(app)
    _, own_token = new_session(app)
    for headers in ({}, {"X-Chat-Session": own_token}, {"X-Chat-Session": "đoán-bừa"}):
        resp = asgi_request(app, "POST", "/webhooks/rest/webhook", headers=headers,
                            json={"sender": victim, "message": "hồ sơ của tôi đến đâu rồi"})
        assert resp.status_code == 403
        assert resp.json() == {"error": "bad_session", "message": BAD_SESSION_REPLY}
    assert seen == []


def test_api_clients_with_their_own_sender_ids_need_no_session(rest_app):
    app, seen = rest_app
    resp = asgi_request(app, "POST", "/webhooks/rest/webhook",
                        json={"sender": "api-client-17", "message": "thủ tục đăng ký kết hôn"})
    assert resp.status_code == 200 and [m.sender_id for m in seen] == ["api-client-17"]


# ---- the client address is decided by the server (finding 2) -------------------------------------------------


@pytest.fixture
def trusted_proxies(monkeypatch):
    import settings

    def apply(value: str) -> None:
        monkeypatch.setenv("TRUSTED_PROXIES", value)
        settings.get_settings.cache_clear()

    yield apply
    settings.get_settings.cache_clear()


def pseudonym(address: str) -> str:
    from core.chat_session import configured_secret
    from core.client_address import client_pseudonym

    return client_pseudonym(configured_secret(), address)


def test_client_metadata_is_the_peer_whatever_the_client_sends(rest_app, trusted_proxies):
    trusted_proxies("127.0.0.1")
    app, seen = rest_app
    resp = asgi_request(app, "POST", "/webhooks/rest/webhook", client=("203.0.113.7", 50123),
                        headers={"X-Real-IP": "198.51.100.1", "X-Forwarded-For": "198.51.100.2"},
                        json={"sender": "api-1", "message": "tra cứu hồ sơ",
                              "metadata": {"client": "ai-đó-khác", "channel": "web"}})
    assert resp.status_code == 200, resp.text
    assert seen[0].metadata == {"client": pseudonym("203.0.113.7"), "channel": "web"}


def test_behind_the_configured_proxy_the_forwarded_address_counts(rest_app, trusted_proxies):
    trusted_proxies("127.0.0.1")
    app, seen = rest_app
    asgi_request(app, "POST", "/webhooks/rest/webhook", client=("127.0.0.1", 50123),
                 headers={"X-Real-IP": "198.51.100.1"}, json={"sender": "api-2", "message": "tra cứu hồ sơ"})
    assert seen[0].metadata == {"client": pseudonym("198.51.100.1")}
