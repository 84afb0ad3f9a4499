"""Calls to Rasa's HTTP API (server started with ``--enable-api --jwt-secret=$RASA_API_TOKEN``).

Rasa 3.6 takes its plain API token only as ``?token=`` in the URL, which proxies and access logs record; the
header it accepts is ``Authorization: Bearer <JWT>`` signed with ``--jwt-secret``. So RASA_API_TOKEN is that JWT
secret, never sent itself: each call carries a short-lived HS256 JWT of an admin user (:func:`rasa_auth_headers`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

DELIVER_ACTION = "action_deliver_staff_reply"

# Input channel recorded on a handoff ticket -> Rasa output channel that can push to that citizen. This is the
# one place where the mapping lives. The web widget asks over the REST channel ("rest"), which cannot push:
# it listens on Rasa's socket.io channel (channels/socketio_push.py), joined to the room named after its sender
# id, so its replies go out through "socketio". Channels that push by themselves (e.g. "zalo") keep their name.
PUSH_OUTPUT_CHANNELS = {"rest": "socketio"}


def output_channel_for(input_channel: str | None) -> str:
    """The ``output_channel`` for ``/execute`` that reaches a citizen who wrote through ``input_channel``."""
    channel = (input_channel or "").strip() or "latest"
    return PUSH_OUTPUT_CHANNELS.get(channel, channel)


JWT_LIFETIME_S = 300
JWT_USER = "staff_api"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rasa_api_jwt(secret: str, *, now: float | None = None, lifetime_s: int = JWT_LIFETIME_S) -> str:
    """An HS256 JWT that Rasa (sanic-jwt, ``--jwt-secret``) accepts as an admin for ``lifetime_s`` seconds."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"user": {"username": JWT_USER, "role": "admin"}, "iat": issued, "exp": issued + lifetime_s}
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload))
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def rasa_auth_headers(secret: str | None) -> dict[str, str]:
    """The headers authenticating a call to Rasa's HTTP API (none when no secret is configured)."""
    return {"Authorization": f"Bearer {rasa_api_jwt(secret)}"} if secret else {}


class RasaError(RuntimeError):
    """Rasa could not be reached (``status`` None) or refused the call (``status``: its HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RasaClient:
    """Executes an action in a (paused) conversation, pushes bot messages into it and resumes conversations."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict | list | None = None,
              params: dict[str, str] | None = None) -> requests.Response:
        try:
            response = requests.request(method, self.base_url + path, json=body, params=params or {},
                                        headers=rasa_auth_headers(self.token), timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise RasaError(f"Rasa unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaError(f"Rasa answered HTTP {response.status_code}", response.status_code)
        return response

    def _post(self, path: str, body: dict | list, params: dict[str, str]) -> dict:
        response = self._call("POST", path, body, params)
        try:
            return response.json()
        except ValueError:
            return {}

    @staticmethod
    def _conversation(sender_id: str) -> str:
        return f"/conversations/{quote(sender_id, safe='')}"

    def deliver_replies(self, sender_id: str, channel: str) -> dict:
        """Run ``action_deliver_staff_reply`` in the conversation, sending its messages towards ``channel``.

        ``channel`` is the ticket's input channel; :func:`output_channel_for` picks the output channel that can
        push to it. ``/execute`` works while the conversation is paused (``trigger_intent`` does not).
        """
        return self._post(f"{self._conversation(sender_id)}/execute", {"name": DELIVER_ACTION},
                          {"output_channel": output_channel_for(channel)})

    def conversation_exists(self, sender_id: str) -> bool:
        """Whether Rasa's tracker store holds this conversation (its ``/story`` route answers 404 otherwise)."""
        try:
            self._call("GET", f"{self._conversation(sender_id)}/story")
        except RasaError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def tracker_events(self, sender_id: str) -> list[dict]:
        """Every event of the conversation's tracker (including those before a restart); RasaError when Rasa
        cannot be asked or does not know the conversation."""
        response = self._call("GET", f"{self._conversation(sender_id)}/tracker", params={"include_events": "ALL"})
        try:
            events = response.json().get("events")
        except (ValueError, AttributeError) as exc:
            raise RasaError("Rasa answered an unreadable tracker") from exc
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []

    def push_message(self, sender_id: str, channel: str, message: dict) -> dict:
        """Append a bot message to the conversation and send it towards ``channel`` (see :func:`output_channel_for`).

        ``message`` is a Rasa ``bot`` event without its ``event`` key (``text``, ``data`` with ``buttons``,
        ``metadata``); Rasa stamps it and, with ``execute_side_effects``, sends it through the output channel.
        Appending a bot message leaves the conversation's last action as it was (no action runs), so the citizen's
        next message is handled as usual.
        """
        return self._post(f"{self._conversation(sender_id)}/tracker/events", [{"event": "bot", **message}],
                          {"output_channel": output_channel_for(channel), "execute_side_effects": "true"})

    def resume(self, sender_id: str) -> dict:
        """Append ``resume`` and ``action_listen``: the bot answers the citizen again.

        The listen event matters: the staff replies were appended by ``/execute`` (no listen after them), and
        without it the citizen's next message follows a bot action instead of a listen, so no rule matches and
        the bot stays silent for one turn.
        """
        return self._post(
            f"{self._conversation(sender_id)}/tracker/events",
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
            {},
        )
