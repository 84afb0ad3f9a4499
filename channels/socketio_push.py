"""Rasa's socket.io channel with a working ``session_request`` room join (the web widget's push path).

The web widget sends questions over the REST channel and keeps a listen-only socket.io connection: it emits
``session_request`` with ``{"session_id": <its sender id>}`` so that messages Rasa sends to that conversation with
``output_channel=socketio`` (officers' replies, run by the staff API through ``/conversations/{id}/execute``)
reach the browser as ``bot_uttered`` events (``SocketIOOutput`` emits to ``room=<sender id>``).

Rasa 3.6's own handler calls ``sio.enter_room(sid, session_id)`` without ``await``. Since python-socketio 5.10
``AsyncServer.enter_room`` is a coroutine, so with the pinned python-socketio 5.18 the stock handler never joins
the room and pushed messages are lost. This channel keeps everything else of ``SocketIOInput`` (name
``socketio``, events, path, JWT option) and replaces only that handler.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

MAX_SESSION_ID_CHARS = 200


class PushSocketIOInput(SocketIOInput):
    """``socketio`` channel whose ``session_request`` really puts the socket in the conversation's room."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socket.io blueprint with the ``session_request`` handler replaced."""
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        persistence = self.session_persistence

        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > MAX_SESSION_ID_CHARS:
                session_id = uuid.uuid4().hex
            if persistence:
                joined = sio.enter_room(sid, session_id)
                if inspect.isawaitable(joined):  # a coroutine since python-socketio 5.10
                    await joined
            await sio.emit("session_confirm", session_id, room=sid)
            logger.debug("Socket %s joined its conversation room.", sid)

        # Registering the same event again replaces Rasa's handler (python-socketio keeps one per event).
        sio.on("session_request", handler=session_request, namespace=self.namespace)
        return blueprint
