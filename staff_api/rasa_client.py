"""Calls to Rasa's HTTP API (server started with ``--enable-api --auth-token $RASA_API_TOKEN``)."""

from __future__ import annotations

import logging
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


class RasaError(RuntimeError):
    """Rasa could not be reached or refused the call."""


class RasaClient:
    """Executes an action in a (paused) conversation and resumes conversations."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _post(self, path: str, body: dict | list, params: dict[str, str]) -> dict:
        if self.token:
            params = {**params, "token": self.token}
        try:
            response = requests.post(self.base_url + path, json=body, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise RasaError(f"Rasa unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaError(f"Rasa answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            return {}

    def deliver_replies(self, sender_id: str, channel: str) -> dict:
        """Run ``action_deliver_staff_reply`` in the conversation, sending its messages towards ``channel``.

        ``channel`` is the ticket's input channel; :func:`output_channel_for` picks the output channel that can
        push to it. ``/execute`` works while the conversation is paused (``trigger_intent`` does not).
        """
        return self._post(f"/conversations/{quote(sender_id, safe='')}/execute", {"name": DELIVER_ACTION},
                          {"output_channel": output_channel_for(channel)})

    def resume(self, sender_id: str) -> dict:
        """Append ``resume`` and ``action_listen``: the bot answers the citizen again.

        The listen event matters: the staff replies were appended by ``/execute`` (no listen after them), and
        without it the citizen's next message follows a bot action instead of a listen, so no rule matches and
        the bot stays silent for one turn.
        """
        return self._post(
            f"/conversations/{quote(sender_id, safe='')}/tracker/events",
            [{"event": "resume"}, {"event": "action", "name": "action_listen"}],
            {},
        )
