"""The socket.io channel used by the web widget to receive officers' replies joins the conversation's room."""

from __future__ import annotations

import asyncio
import logging

import pytest
from rasa.core.channels.socketio import SocketIOOutput

from channels.input_rules import EMPTY_MESSAGE_REPLY
from channels.rest import BAD_SESSION_REPLY
from channels.socketio_push import PushSocketIOInput
from channels.turn import store_down_reply
from core import chat_session
from tests.fakes.full_tracker_store import TwoTurnsOneFailing


async def _noop(message) -> None:
    return None


def _channel(**credentials) -> PushSocketIOInput:
    channel = PushSocketIOInput.from_credentials({"session_persistence": True, **credentials})
    channel.blueprint(_noop)
    return channel


def _request(channel: PushSocketIOInput, requests: list, eio_sid: str = "eio-1") -> list[str]:
    """Connect one client (like the engine.io handshake does) and send it the ``session_request`` ``requests``."""

    async def run() -> list[str]:
        sid = await channel.sio.manager.connect(eio_sid, "/")
        for data in requests:
            await channel.sio.handlers["/"]["session_request"](sid, data)
        return [sid]

    return asyncio.run(run())


def _room(channel: PushSocketIOInput, name: str) -> set:
    return set((channel.sio.manager.rooms.get("/") or {}).get(name) or {})


def test_keeps_rasa_socketio_name_and_output():
    channel = _channel()
    assert PushSocketIOInput.name() == "socketio" and channel.session_persistence is True
    assert isinstance(channel.get_output_channel(), SocketIOOutput)


def _recording(channel: PushSocketIOInput) -> list:
    sent = []

    async def emit(event, data=None, room=None, **kwargs):
        sent.append((event, data, room))

    channel.sio.emit = emit
    return sent


def test_session_request_with_the_token_joins_the_sender_room_and_confirms():
    channel = _channel()
    sent = _recording(channel)
    sender, token = chat_session.issue(chat_session.configured_secret())
    [sid] = _request(channel, [{"session_id": sender, "session_token": token}])
    assert sid in _room(channel, sender)
    assert sent == [("session_confirm", sender, sid)]


@pytest.mark.parametrize("token", [None, "", "đoán-bừa", "x" * 43])
def test_hijack_without_the_token_is_refused(token):
    """Issue 13, finding 3: knowing a citizen's sender id is not enough to join the room of their conversation."""
    channel = _channel()
    sent = _recording(channel)
    victim, victim_token = chat_session.issue(chat_session.configured_secret())
    assert token != victim_token
    [sid] = _request(channel, [{"session_id": victim, "session_token": token}])
    assert _room(channel, victim) == set()
    assert sent == [("session_refused", {"reason": "bad_session", "message": BAD_SESSION_REPLY}, sid)]


def test_token_of_another_session_does_not_open_this_room():
    channel = _channel()
    _recording(channel)
    victim, _ = chat_session.issue(chat_session.configured_secret())
    _, own_token = chat_session.issue(chat_session.configured_secret())
    _request(channel, [{"session_id": victim, "session_token": own_token}])
    assert _room(channel, victim) == set()


def test_session_request_without_an_id_gets_a_fresh_server_issued_room():
    channel = _channel()
    sent = _recording(channel)
    [sid] = _request(channel, [None, {}, {"session_id": None}, {"session_id": "   "}])
    rooms = [data for event, data, _ in sent if event == "session_confirm"]
    assert len(rooms) == 4 and len(set(rooms)) == 4
    assert all(room.startswith("web-") and len(room) == 36 and sid in _room(channel, room) for room in rooms)


def _utter(channel: PushSocketIOInput, sid: str, data) -> None:
    asyncio.run(channel.sio.handlers["/"]["user_uttered"](sid, data))


def test_posting_as_a_sender_needs_the_joined_session():
    seen = []

    async def on_new_message(message):
        seen.append((message.sender_id, message.text, message.input_channel, message.metadata))

    channel = PushSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(on_new_message)
    sent = _recording(channel)
    victim, _ = chat_session.issue(chat_session.configured_secret())
    own, own_token = chat_session.issue(chat_session.configured_secret())
    [sid] = _request(channel, [])
    _utter(channel, sid, {"session_id": victim, "message": "cho tôi xem hồ sơ của tôi"})  # never joined
    _request_on(channel, sid, {"session_id": own, "session_token": own_token})
    _utter(channel, sid, {"session_id": victim, "message": "cho tôi xem hồ sơ của tôi"})  # joined another one
    assert seen == []
    assert [event for event, _, _ in sent] == ["session_refused", "session_confirm", "session_refused"]
    _utter(channel, sid, {"session_id": own, "message": "làm giấy khai sinh cần gì",
                          "customData": {"channel": "zalo"}})
    assert seen == [(own, "làm giấy khai sinh cần gì", "socketio", {"channel": "web"})]


@pytest.mark.parametrize(("message", "reply"), [
    ("   ", EMPTY_MESSAGE_REPLY),
    ("a" * 2001, "Tin nhắn của bạn dài quá 2.000 ký tự nên tôi chưa xử lý được. "
                 "Bạn vui lòng rút gọn câu hỏi hoặc chia thành nhiều tin nhắn ngắn."),
    (["không", "phải", "chữ"], EMPTY_MESSAGE_REPLY),
])
def test_socket_messages_pass_the_rest_channels_input_rule(message, reply):
    seen = []

    async def on_new_message(msg):
        seen.append(msg)

    channel = PushSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(on_new_message)
    sent = _recording(channel)
    own, own_token = chat_session.issue(chat_session.configured_secret())
    [sid] = _request(channel, [{"session_id": own, "session_token": own_token}])
    _utter(channel, sid, {"session_id": own, "message": message})
    assert seen == []
    assert sent[-1] == ("bot_uttered", {"text": reply}, own)


def _request_on(channel: PushSocketIOInput, sid: str, data) -> None:
    asyncio.run(channel.sio.handlers["/"]["session_request"](sid, data))


def test_without_session_persistence_no_room_is_joined():
    channel = _channel(session_persistence=False)

    async def emit(event, data=None, room=None, **kwargs):
        return None

    channel.sio.emit = emit
    sender, token = chat_session.issue(chat_session.configured_secret())
    _request(channel, [{"session_id": sender, "session_token": token}])
    assert _room(channel, sender) == set()


def test_socket_messages_carry_the_client_seen_at_connect(monkeypatch):
    """Issue 13, finding 2: the client address (pseudonym) is taken from the connection, never from the client."""
    from types import SimpleNamespace

    import settings
    from core.client_address import client_pseudonym

    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    settings.get_settings.cache_clear()
    seen = []

    async def on_new_message(message):
        seen.append(message.metadata)

    channel = PushSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(on_new_message)
    _recording(channel)
    own, own_token = chat_session.issue(chat_session.configured_secret())
    [sid] = _request(channel, [{"session_id": own, "session_token": own_token}])
    request = SimpleNamespace(ip="203.0.113.7", headers={"x-real-ip": "198.51.100.1"})
    assert asyncio.run(channel.sio.handlers["/"]["connect"](sid, {"sanic.request": request}, None)) is True
    _utter(channel, sid, {"session_id": own, "message": "tra cứu hồ sơ", "customData": {"client": "giả"}})
    expected = client_pseudonym(chat_session.configured_secret(), "203.0.113.7")
    assert seen == [{"channel": "web", "client": expected}]
    settings.get_settings.cache_clear()


def test_a_failed_save_during_a_socket_turn_gets_the_apology_and_leaves_another_turn_alone(tmp_path, caplog):
    """A socket.io turn runs through channels.turn.run_turn like REST and Zalo: Rasa's fail-safe store swallows the
    failed save, so the turn is answered and then forgotten; that conversation gets the apology after its answer.
    Another conversation's turn running at the same time, saved correctly, gets only its answer."""
    steady, steady_token = chat_session.issue(chat_session.configured_secret())
    failing, failing_token = chat_session.issue(chat_session.configured_secret())
    processor = TwoTurnsOneFailing(steady, tmp_path)
    channel = PushSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(processor)
    sent = _recording(channel)
    [steady_sid] = _request(channel, [{"session_id": steady, "session_token": steady_token}])
    [failing_sid] = _request(channel, [{"session_id": failing, "session_token": failing_token}], eio_sid="eio-2")
    utter = channel.sio.handlers["/"]["user_uttered"]

    async def both_turns():
        await asyncio.gather(
            utter(steady_sid, {"session_id": steady, "message": "lệ phí cấp đổi giấy phép lái xe bao nhiêu"}),
            utter(failing_sid, {"session_id": failing, "message": "nhờ cán bộ gọi lại cho tôi số 0912 345 678"}),
        )

    with caplog.at_level(logging.ERROR):
        asyncio.run(both_turns())
    answers = [(room, data["text"]) for event, data, room in sent if event == "bot_uttered"]
    assert [text for room, text in answers if room == steady] == [processor.STEADY_ANSWER]
    assert [text for room, text in answers if room == failing] == [processor.FAILING_ANSWER, store_down_reply()]
    assert "Socket.io message not handled: tracker store (SQL database) failed; sent apology." in caplog.text
    assert "0912" not in caplog.text and "gọi lại cho tôi" not in caplog.text, caplog.text
