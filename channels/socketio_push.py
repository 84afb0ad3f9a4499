"""Rasa's socket.io channel with authenticated conversation rooms (the web widget's push path).

The web widget sends questions over the REST channel and keeps a listen-only socket.io connection: it emits
``session_request`` with ``{"session_id": <its sender id>, "session_token": <its token>}`` so that messages Rasa
sends to that conversation with ``output_channel=socketio`` (officers' replies, run by the staff API through
``/conversations/{id}/execute``) reach the browser as ``bot_uttered`` events (``SocketIOOutput`` emits to
``room=<sender id>``).

Rooms are bound to a secret the widget holds (issue 13, finding 3): the server issued the sender id and its session
token (``POST /webhooks/rest/session``, core/chat_session.py), and a socket joins a room, or posts
``user_uttered`` as its sender, only with that token. A socket asking without any id gets a fresh server-issued
room. Messages posted on the socket pass the channels' input rule (``channels.input_rules.check_user_text``) and
run as one turn like REST and Zalo (``channels.turn.run_turn``): a turn whose stores failed gets the apology
after what Rasa already emitted.

Rasa 3.6's own ``session_request`` handler also calls ``sio.enter_room`` without ``await`` (a coroutine since
python-socketio 5.10), so with the pinned python-socketio 5.18 the stock handler never joined the room; the
handlers here await it. Everything else of ``SocketIOInput`` (name ``socketio``, events, path) is kept.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from channels import process
from channels.input_rules import check_user_text
from channels.rest import BAD_SESSION_REPLY, request_client
from channels.turn import run_turn, store_down_reply
from core import chat_session
from core.client_address import METADATA_KEY as CLIENT_KEY

logger = logging.getLogger(__name__)

MAX_SESSION_ID_CHARS = 200
REFUSED_EVENT = "session_refused"


class StampedSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output adding the bot message's server ``timestamp`` to what it emits."""

    def __init__(self, sio: Any, bot_message_evt: Text) -> None:
        super().__init__(sio, bot_message_evt)
        self._stamp: Optional[float] = None

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Send one bot message (Rasa passes ``BotUttered.message()``, which holds its ``timestamp``)."""
        stamp = message.get("timestamp")
        self._stamp = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._stamp = None

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        if self._stamp is not None and isinstance(response, dict):
            response = {**response, "timestamp": self._stamp}
        await super()._send_message(socket_id, response)


class PushSocketIOInput(SocketIOInput):
    """``socketio`` channel whose rooms and messages need the conversation's session token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: Dict[Text, Text] = {}  # socket id -> the conversation it proved it holds
        self.clients: Dict[Text, Optional[Text]] = {}  # socket id -> its client pseudonym (set at connect)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "PushSocketIOInput":
        """Rasa's ``socketio`` settings from ``credentials.yml`` (Rasa builds the channel once, at start-up)."""
        process.setup()
        return super().from_credentials(credentials)

    def get_output_channel(self) -> Optional[StampedSocketIOOutput]:
        """The output Rasa uses for ``output_channel=socketio`` (``/execute``, tracker events with side effects)."""
        return StampedSocketIOOutput(self.sio, self.bot_message_evt) if self.sio is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socket.io blueprint with the ``session_request``, message and disconnect handlers replaced."""
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        persistence = self.session_persistence
        sessions = self.sessions
        clients = self.clients
        rasa_connect = sio.handlers.get(self.namespace or "/", {}).get("connect")

        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> Any:
            request = environ.get("sanic.request") if isinstance(environ, dict) else None
            if request is not None:
                clients[sid] = request_client(request.ip, request.headers.get)
            return await rasa_connect(sid, environ, auth) if rasa_connect else True

        async def refuse(sid: Text, reason: Text) -> None:
            await sio.emit(REFUSED_EVENT, {"reason": reason, "message": BAD_SESSION_REPLY}, room=sid)
            logger.warning("Socket %s refused: %s.", sid, reason)

        async def join(sid: Text, session_id: Text) -> None:
            if persistence:
                joined = sio.enter_room(sid, session_id)
                if inspect.isawaitable(joined):  # a coroutine since python-socketio 5.10
                    await joined
            sessions[sid] = session_id
            await sio.emit("session_confirm", session_id, room=sid)
            logger.debug("Socket %s joined its conversation room.", sid)

        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if session_id is None or (isinstance(session_id, str) and not session_id.strip()):
                # No conversation asked for: a fresh one chosen by the server (nobody else can know its name).
                session_id, _ = chat_session.issue(chat_session.configured_secret())
                await join(sid, session_id)
                return
            if (not isinstance(session_id, str) or len(session_id) > MAX_SESSION_ID_CHARS
                    or not chat_session.is_valid(chat_session.configured_secret(), session_id,
                                                 data.get("session_token"))):
                await refuse(sid, "bad_session")
                return
            await join(sid, session_id)

        async def handle_message(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            if persistence:
                sender_id = sessions.get(sid)
                claimed = data.get("session_id")
                if sender_id is None or (claimed is not None and claimed != sender_id):
                    await refuse(sid, "no_session")
                    return
            else:
                sender_id = sid
            output = StampedSocketIOOutput(sio, self.bot_message_evt)
            text, refusal = check_user_text(data.get("message"))
            if refusal:
                await output.send_text_message(sender_id, refusal)
                return
            # Metadata is decided here, never taken from the client.
            metadata = {"channel": "web"}
            if clients.get(sid):
                metadata[CLIENT_KEY] = clients[sid]
            message = UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata)
            turn = await run_turn(message, on_new_message)
            if turn.failure:
                # A store failed during this turn (channels/turn.py): what Rasa answered is already emitted; the
                # apology asks the citizen to send the message again.
                logger.error("Socket.io message not handled: %s; sent apology.", turn.failure)
                await output.send_text_message(sender_id, store_down_reply())

        async def disconnect(sid: Text) -> None:
            sessions.pop(sid, None)
            clients.pop(sid, None)

        # Registering the same event again replaces Rasa's handler (python-socketio keeps one per event).
        sio.on("connect", handler=connect, namespace=self.namespace)
        sio.on("session_request", handler=session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handler=handle_message, namespace=self.namespace)
        sio.on("disconnect", handler=disconnect, namespace=self.namespace)
        return blueprint
