"""Pushed messages (status-change notifications, officers' replies) reach the web widget live over socket.io with
their server timestamp, and a widget that was closed fetches the ones it missed: ``GET /webhooks/rest/pushed``.

The REST channel's real blueprint in a Sanic app driven over ASGI, reading a real SQLite tracker store.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from channels.rest import BAD_CURSOR_REPLY, BAD_SESSION_REPLY, ResilientRestInput
from channels.socketio_push import PushSocketIOInput, StampedSocketIOOutput
from core import chat_session
from tests.fakes.asgi import asgi_request

SENDER = "web-3f9c2a7d0e5b4c1a9f8e7d6c5b4a3921"
NOTIFICATION = ("Hồ sơ H07.02-******-0003 (Đăng ký khai sinh) đã chuyển từ “Đang xử lý” sang “Đã có kết quả” lúc "
                "10:00 ngày 24/11/2025.\nNhắn “hủy thông báo” để ngừng nhận.")
UNSUBSCRIBE = [{"title": "Hủy thông báo", "payload": "/unsubscribe_notifications"}]
STAFF_REPLY = "Chào anh, hồ sơ của anh đã được chuyển sang bộ phận trả kết quả."


def conversation() -> list:
    """A citizen's question and answer, then a notification (appended by the worker) and an officer's reply."""
    return [
        ActionExecuted("action_listen", timestamp=100.0),
        UserUttered("tra cứu hồ sơ", {"name": "check_status", "confidence": 1.0}, timestamp=101.0),
        BotUttered("Bạn cho tôi xin mã hồ sơ nhé.", {"buttons": None}, {"utter_action": "utter_ask_application_code"},
                   timestamp=102.0),
        BotUttered(NOTIFICATION, {"buttons": UNSUBSCRIBE}, {"pushed": True, "notification": True}, timestamp=200.5),
        ActionExecuted("action_deliver_staff_reply", timestamp=300.0),
        BotUttered(STAFF_REPLY, {}, {"utter_action": "utter_staff_reply", "reply": STAFF_REPLY}, timestamp=300.25),
    ]


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.setattr(Sanic, "test_mode", True)
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    asyncio.run(store.save(DialogueStateTracker.from_events(SENDER, conversation())))

    async def on_new_message(message):
        return None

    app = Sanic("rest_pushed")
    app.blueprint(ResilientRestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    app.ctx.agent = SimpleNamespace(tracker_store=store)
    return app


def pushed(app, sender=SENDER, token=None, **query):
    token = chat_session.token_for(chat_session.configured_secret(), sender) if token is None else token
    return asgi_request(app, "GET", "/webhooks/rest/pushed", params={"sender": sender, **query},
                        headers={"X-Chat-Session": token})


def test_messages_pushed_after_the_cursor_with_their_buttons(app):
    resp = pushed(app, after="150")
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert resp.json() == {"messages": [{"text": NOTIFICATION, "timestamp": 200.5, "buttons": UNSUBSCRIBE},
                                        {"text": STAFF_REPLY, "timestamp": 300.25}],
                           "cursor": 300.25}
    assert pushed(app, after="200.5").json() == {"messages": [{"text": STAFF_REPLY, "timestamp": 300.25}],
                                                 "cursor": 300.25}
    assert pushed(app, after="300.25").json() == {"messages": [], "cursor": 300.25}


def test_first_call_only_sets_the_cursor(app):
    assert pushed(app).json() == {"messages": [], "cursor": 300.25}


def test_unknown_conversation_has_nothing_pushed(app):
    other = "web-00000000000000000000000000000000"
    assert pushed(app, sender=other, after="0").json() == {"messages": [], "cursor": 0.0}


@pytest.mark.parametrize("token", ["", "đoán-bừa", chat_session.token_for(b"another-secret", SENDER)])
def test_someone_elses_conversation_is_refused(app, token):
    resp = pushed(app, token=token, after="0")
    assert resp.status_code == 403
    assert resp.json() == {"error": "bad_session", "message": BAD_SESSION_REPLY}


def test_a_sender_outside_the_web_sessions_is_refused(app):
    """API clients' sender ids are not bound to a token: nobody may read their pushed messages this way."""
    resp = pushed(app, sender="2512523625412515", token="", after="0")
    assert resp.status_code == 403


@pytest.mark.parametrize("after", ["hôm-qua", "nan", "inf"])
def test_a_cursor_that_is_not_a_number_is_a_bad_request(app, after):
    resp = pushed(app, after=after)
    assert resp.status_code == 400
    assert resp.json() == {"error": "bad_request", "message": BAD_CURSOR_REPLY}


def test_live_push_carries_the_server_timestamp():
    channel = PushSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(lambda message: None)
    sent = []

    async def emit(event, data=None, room=None, **kwargs):
        sent.append((event, data, room))

    channel.sio.emit = emit
    output = channel.get_output_channel()
    assert isinstance(output, StampedSocketIOOutput)
    # What Rasa does with each bot event of /execute or of tracker events appended with side effects.
    event = BotUttered(NOTIFICATION, {"buttons": UNSUBSCRIBE}, {"pushed": True}, timestamp=200.5)
    asyncio.run(output.send_response(SENDER, event.message()))
    assert sent == [("bot_uttered", {"text": NOTIFICATION, "timestamp": 200.5, "quick_replies": [
        {"content_type": "text", "title": "Hủy thông báo", "payload": "/unsubscribe_notifications"}]}, SENDER)]
