"""REST channel for the web chat page that never leaves a citizen without an answer.

Rasa's own ``RestInput`` replies with an empty list when a custom action fails (for example when the
action server is down): the processor logs the error and predicts ``action_listen``. Citizens would see
silence. This channel wraps the message handler: empty or over-long messages get a polite reply without
reaching the model (channels/input_rules.py), a turn whose stores failed (channels/turn.py) and an answer given
while the action server is unreachable become an apology.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from channels import process
from channels.action_health import DEFAULT_ACTION_HEALTH_URL, action_server_is_up
from channels.input_rules import MAX_MESSAGE_CHARS, check_user_text, clean_user_text, has_control_characters
from channels.turn import actions_down_reply, run_turn, store_down_reply
from core import chat_session
from core.client_address import METADATA_KEY as CLIENT_KEY
from core.client_address import client_address, client_pseudonym

logger = logging.getLogger(__name__)

BAD_REQUEST_REPLY = (
    'Yêu cầu không hợp lệ: cần gửi một đối tượng JSON dạng {"sender": "...", "message": "..."}.'
)
BAD_SENDER_REPLY = "Yêu cầu không hợp lệ: mã người gửi (sender) phải là chuỗi ký tự thường, tối đa 255 ký tự."
# A "web-..." sender id without its session token (core/chat_session.py): the widget asks for a new
# session (POST /webhooks/rest/session) and sends the token in this header.
SESSION_HEADER = "X-Chat-Session"
BAD_SESSION_REPLY = (
    "Phiên trò chuyện không hợp lệ hoặc đã hết hạn. Bạn vui lòng tải lại trang để bắt đầu phiên mới."
)
BAD_CURSOR_REPLY = "Yêu cầu không hợp lệ: tham số after phải là một số (mốc thời gian do máy chủ trả về)."
# SQLTrackerStore's sender_id column is VARCHAR(255): longer ids fail on PostgreSQL (scaled profile).
MAX_SENDER_CHARS = 255
MAX_METADATA_CHARS = 4096  # the web widget sends {"channel": "web"}
STORE_PING_TIMEOUT_S = 2.0


def _ping_lock_store(lock_store: Any) -> None:
    """Raise if the agent's lock store cannot be reached (only Redis needs a network round trip)."""
    red = getattr(lock_store, "red", None)
    if red is not None:
        red.ping()


def _configured_store(store: Any) -> Any:
    """The store configured in endpoints.yml, inside Rasa's AwaitableTrackerStore(FailSafeTrackerStore(...))."""
    for _ in range(4):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            break
        store = inner
    return store


def _ping_tracker_store(tracker_store: Any) -> None:
    """Raise if the agent's tracker store cannot be reached (SQL stores run ``SELECT 1``)."""
    engine = getattr(_configured_store(tracker_store), "engine", None)
    if engine is not None:
        import sqlalchemy as sa

        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))


def session_ok(sender: Any, token: Any) -> bool:
    """Whether ``sender`` may be used with ``token``: issued web sender ids need their session token."""
    if not chat_session.needs_session(sender):
        return True
    return chat_session.is_valid(chat_session.configured_secret(), sender, token)


def request_client(peer: Optional[str], header: Callable[[str], Optional[str]]) -> Optional[str]:
    """The pseudonym of the client behind a request (TRUSTED_PROXIES decide whose forwarded headers count)."""
    from settings import get_settings

    address = client_address(peer, header, get_settings().trusted_proxies)
    return client_pseudonym(chat_session.configured_secret(), address)


def _json_object(request: Request) -> Dict[Text, Any]:
    try:
        data = request.json
    except Exception:  # noqa: BLE001 - malformed JSON: treated as no object
        return {}
    return data if isinstance(data, dict) else {}


def _cursor(value: Optional[str]) -> Any:
    """The ``after`` cursor of a pushed-messages request: None when absent, False when it is not a finite number."""
    if value is None or value == "":
        return None
    try:
        cursor = float(value)
    except ValueError:
        return False
    return cursor if math.isfinite(cursor) else False


def _bad_sender(sender: Any) -> bool:
    if sender is None:
        return False
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        return True
    text = str(sender)
    return len(text) > MAX_SENDER_CHARS or has_control_characters(text) or text != clean_user_text(text)


def _withdraw(out: OutputChannel, before: int) -> None:
    """Drop what Rasa answered in this turn (the REST channel collects the answer before sending it)."""
    if isinstance(out, CollectingOutputChannel):
        del out.messages[before:]


class ResilientRestInput(RestInput):
    """REST input channel (``/webhooks/rest/webhook``) with input checks and an apology when actions fail."""

    def __init__(self, action_health_url: Optional[Text] = None, max_message_chars: int = MAX_MESSAGE_CHARS) -> None:
        """Create the channel; ``action_health_url`` is the action server's ``/health`` route."""
        self.action_health_url = action_health_url or DEFAULT_ACTION_HEALTH_URL
        self.max_message_chars = int(max_message_chars)
        self._down: set = set()  # stores reported down by the health route (an ERROR is logged once per outage)

    @classmethod
    def name(cls) -> Text:
        """Keep Rasa's REST route so clients need no change."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ResilientRestInput":
        """Build the channel from its ``credentials.yml`` section (Rasa does this once, at start-up)."""
        process.setup()
        credentials = credentials or {}
        return cls(
            action_health_url=credentials.get("action_health_url"),
            max_message_chars=credentials.get("max_message_chars", MAX_MESSAGE_CHARS),
        )

    async def action_server_is_up(self) -> bool:
        """Whether the action server answers its health route within a second."""
        return await action_server_is_up(self.action_health_url)

    async def handle_message(
        self, message: UserMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Check the input, pass it to Rasa, and apologise instead of its answer when the action server is down."""
        out = message.output_channel
        message.text, refusal = check_user_text(message.text, self.max_message_chars)
        if refusal:
            await out.send_text_message(message.sender_id, refusal)
            return
        before = len(out.messages) if isinstance(out, CollectingOutputChannel) else 0
        turn = await run_turn(message, on_new_message)
        if turn.failure:
            if not turn.error:
                # The tracker store failed inside Rasa's fail-safe wrapper: Rasa answered without the conversation's
                # history (a failed read is an empty tracker) or could not save the turn. Withdraw that answer.
                _withdraw(out, before)
            logger.error("Message not handled: %s; sent apology to the user.", turn.failure)
            await out.send_text_message(message.sender_id, store_down_reply())
            return
        # Every turn needs the action server (slot validation runs there before any policy): when it is down Rasa
        # answers with its core fallback ("chưa hiểu ý bạn"), which would blame the citizen's wording. Withdraw it.
        if not await self.action_server_is_up():
            _withdraw(out, before)
            logger.error("Action server unreachable at %s; sent apology to the user.", self.action_health_url)
            await out.send_text_message(message.sender_id, actions_down_reply())

    # Rasa's extractors call ``request.json.get`` and pass any JSON value on: a non-string message failed in
    # UserMessage and left the citizen without a reply; metadata and input_channel are client-controlled.
    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _json_object(req).get("sender")
        return None if sender is None else str(sender)

    def _extract_message(self, req: Request) -> Optional[Text]:
        return clean_user_text(_json_object(req).get("message"))

    def _extract_input_channel(self, req: Request) -> Text:
        # The channel of a message is the one it came in on, decided here: a body claiming "zalo" would make the
        # staff API push an officer's reply through the Zalo OA to whoever owns that sender id (issue 13, #4).
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """The request's ``metadata`` object (anything else, or an object over 4 KB, is dropped) with the server's
        ``client`` pseudonym, overwriting whatever the client sent under that key."""
        metadata = self._client_metadata(request)
        client = request_client(request.ip, request.headers.get)
        if client:
            metadata[CLIENT_KEY] = client
        else:
            metadata.pop(CLIENT_KEY, None)
        return metadata or None

    @staticmethod
    def _client_metadata(request: Request) -> Dict[Text, Any]:
        metadata = _json_object(request).get("metadata")
        if not isinstance(metadata, dict):
            return {}
        # Stored with every user event of the tracker: a client must not be able to bloat it.
        try:
            size = len(json.dumps(metadata, ensure_ascii=False))
        except (TypeError, ValueError, RecursionError):
            return {}
        return dict(metadata) if size <= MAX_METADATA_CHARS else {}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint around :meth:`handle_message`; bodies that are not a JSON object get a 400."""

        async def guarded(message: UserMessage) -> None:
            await self.handle_message(message, on_new_message)

        blueprint = super().blueprint(guarded)

        @blueprint.middleware("request")
        async def check_body(request: Request) -> Optional[response.HTTPResponse]:
            # Rasa's handler calls ``request.json.get``: an empty body or a JSON list would be an HTTP 500.
            if request.method != "POST" or request.path.rstrip("/").endswith("/session"):
                return None
            try:
                data = request.json
            except Exception:  # noqa: BLE001 - malformed JSON, invalid UTF-8, too deeply nested
                data = None
            if not isinstance(data, dict):
                return response.json({"error": "bad_request", "message": BAD_REQUEST_REPLY}, status=400)
            if _bad_sender(data.get("sender")):
                return response.json({"error": "bad_sender", "message": BAD_SENDER_REPLY}, status=400)
            if not session_ok(data.get("sender"), request.headers.get(SESSION_HEADER)):
                return response.json({"error": "bad_session", "message": BAD_SESSION_REPLY}, status=403)
            return None

        @blueprint.route("/session", methods=["POST"])
        async def new_session(request: Request) -> response.HTTPResponse:
            # A fresh conversation for the web widget: its sender id and the token binding it (chat_session.py).
            sender, token = chat_session.issue(chat_session.configured_secret())
            return response.json({"sender": sender, "session_token": token},
                                 headers={"Cache-Control": "no-store"})

        @blueprint.route("/pushed", methods=["GET"])
        async def pushed(request: Request) -> response.HTTPResponse:
            return await self.pushed_response(request)

        @blueprint.route("/health", methods=["GET"])
        async def health(request: Request) -> response.HTTPResponse:
            return await self.health_response(request)

        return blueprint

    async def check_stores(self, agent: Any) -> Dict[Text, Text]:
        """``{"lock_store": "ok"|"down", "tracker_store": "ok"|"down"}`` for the running agent."""
        checks = {
            "lock_store": (_ping_lock_store, getattr(agent, "lock_store", None)),
            "tracker_store": (_ping_tracker_store, getattr(agent, "tracker_store", None)),
        }
        result: Dict[Text, Text] = {}
        for name, (ping, store) in checks.items():
            try:
                # The drivers block (redis-py, SQLAlchemy): ping in a thread with a short timeout.
                await asyncio.wait_for(asyncio.to_thread(ping, store), STORE_PING_TIMEOUT_S)
                result[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means the store is unusable
                result[name] = "down"
                if name not in self._down:
                    logger.error("Health: %s %s is unreachable (%s).", name,
                                 type(_configured_store(store)).__name__, type(exc).__name__)
                self._down.add(name)
                continue
            if name in self._down:
                logger.warning("Health: %s %s is reachable again.", name, type(_configured_store(store)).__name__)
                self._down.discard(name)
        return result

    async def pushed_response(self, request: Request) -> response.HTTPResponse:
        """GET /webhooks/rest/pushed?sender=<web sender id>&after=<cursor> with the session token (X-Chat-Session):
        the messages pushed into the conversation (notifications, officers' replies) after the cursor, which a widget
        that was closed when they came asks for when it comes back, and the cursor to ask with next time."""
        sender = request.args.get("sender")
        if not chat_session.needs_session(sender) or not session_ok(sender, request.headers.get(SESSION_HEADER)):
            return response.json({"error": "bad_session", "message": BAD_SESSION_REPLY}, status=403)
        after = _cursor(request.args.get("after"))
        if after is False:
            return response.json({"error": "bad_request", "message": BAD_CURSOR_REPLY}, status=400)
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None:
            return response.json({"status": "starting"}, status=503)
        try:
            tracker = await agent.tracker_store.retrieve(sender)
        except Exception as exc:  # noqa: BLE001 - the store is down: the widget asks again on its next connection
            logger.error("Pushed messages not read: tracker store failed (%s).", type(exc).__name__)
            return response.json({"status": "down"}, status=503)
        events = [event.as_dict() for event in tracker.events] if tracker is not None else []
        messages, cursor = chat_session.pushed_after(events, after)
        return response.json({"messages": messages, "cursor": cursor}, headers={"Cache-Control": "no-store"})

    async def health_response(self, request: Request) -> response.HTTPResponse:
        """GET /webhooks/rest/health: 200 when the lock and tracker stores answer, else 503 naming the down ones."""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None:
            return response.json({"status": "starting"}, status=503)
        stores = await self.check_stores(agent)
        down = sorted(name for name, state in stores.items() if state != "ok")
        body = {"status": "down" if down else "ok", "down": down, **stores}
        return response.json(body, status=503 if down else 200)
