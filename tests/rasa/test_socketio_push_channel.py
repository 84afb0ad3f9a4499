"""The socket.io channel used by the web widget to receive officers' replies joins the conversation's room."""

from __future__ import annotations

import asyncio

from rasa.core.channels.socketio import SocketIOOutput

from channels.socketio_push import PushSocketIOInput


async def _noop(message) -> None:
    return None


def _channel(**credentials) -> PushSocketIOInput:
    channel = PushSocketIOInput.from_credentials({"session_persistence": True, **credentials})
    channel.blueprint(_noop)
    return channel


def _request(channel: PushSocketIOInput, requests: list) -> list[str]:
    """Connect one client (like the engine.io handshake does) and send it the ``session_request`` ``requests``."""

    async def run() -> list[str]:
        sid = await channel.sio.manager.connect("eio-1", "/")
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


def test_session_request_joins_the_sender_room_and_confirms():
    channel = _channel()
    sent = []

    async def emit(event, data=None, room=None, **kwargs):
        sent.append((event, data, room))

    channel.sio.emit = emit
    [sid] = _request(channel, [{"session_id": "web-1234"}])
    assert sid in _room(channel, "web-1234")
    assert sent == [("session_confirm", "web-1234", sid)]


def test_session_request_without_a_usable_id_gets_a_fresh_room():
    channel = _channel()
    confirmed = []

    async def emit(event, data=None, room=None, **kwargs):
        confirmed.append(data)

    channel.sio.emit = emit
    bad = [None, {}, {"session_id": None}, {"session_id": "   "}, {"session_id": "x" * 500}, ["web-1"]]
    [sid] = _request(channel, bad)
    assert len(confirmed) == 6 and len(set(confirmed)) == 6
    assert all(len(room) == 32 and sid in _room(channel, room) for room in confirmed)


def test_without_session_persistence_no_room_is_joined():
    channel = _channel(session_persistence=False)

    async def emit(event, data=None, room=None, **kwargs):
        return None

    channel.sio.emit = emit
    _request(channel, [{"session_id": "web-9"}])
    assert _room(channel, "web-9") == set()
