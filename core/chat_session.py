"""Web chat sessions bound to a secret the widget holds (issue 13, finding 3).

The server issues the web widget's sender id ("web-" + 128 random bits) together with a session token, an HMAC of
the sender id under the server's CHAT_SESSION_SECRET. Only the holder of the token may join that conversation's
socket.io room (officers' replies are pushed there), post on the socket as that sender, or post as that sender
through the REST channel: sender ids in the issued namespace ("web-...") need the token everywhere. Other REST
sender ids (API clients) are not bound; nothing of a "web-" conversation can be reached through them.

Pure functions on the secret; :func:`configured_secret` reads the settings (a per-process random secret, with a
warning, when none is configured: fine for one process, while the run scripts share one secret in var/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from functools import lru_cache
from typing import Any, Tuple

logger = logging.getLogger(__name__)

ISSUED_PREFIX = "web-"
_CONTEXT = b"tthc-chat-session-v1:"


def token_for(secret: bytes, sender_id: str) -> str:
    """The session token of ``sender_id`` (URL-safe, 43 characters)."""
    digest = hmac.new(secret, _CONTEXT + sender_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(secret: bytes) -> Tuple[str, str]:
    """A fresh (sender id, session token) pair."""
    sender_id = ISSUED_PREFIX + secrets.token_hex(16)
    return sender_id, token_for(secret, sender_id)


def is_valid(secret: bytes, sender_id: Any, token: Any) -> bool:
    """Whether ``token`` is the session token of ``sender_id`` (constant-time)."""
    if not isinstance(sender_id, str) or not isinstance(token, str) or not sender_id or not token:
        return False
    return hmac.compare_digest(token_for(secret, sender_id).encode("ascii"), token.encode("utf-8", "replace"))


def needs_session(sender_id: Any) -> bool:
    """Sender ids in the issued namespace may only be used with their session token."""
    return isinstance(sender_id, str) and sender_id.startswith(ISSUED_PREFIX)


@lru_cache(maxsize=1)
def configured_secret() -> bytes:
    """CHAT_SESSION_SECRET from the settings; a random per-process secret (logged as a warning) without one."""
    from settings import get_settings

    value = get_settings().chat_session_secret
    if value:
        return value.encode("utf-8")
    logger.warning("CHAT_SESSION_SECRET is not set: web chat sessions are signed with a per-process secret "
                   "(they end when this process restarts, and replicas do not share them).")
    return secrets.token_bytes(32)


# Bot messages pushed into a web conversation without a question of the citizen (status-change notifications,
# officers' replies). A widget that was closed when they were pushed fetches them when it comes back
# (channels/rest.py, ``GET /webhooks/rest/pushed``): they are the conversation's bot events marked
# ``{"pushed": true}`` in their metadata, or uttered with one of the responses below.
PUSHED_METADATA_KEY = "pushed"
PUSHED_RESPONSES = frozenset({"utter_staff_reply"})


def is_pushed(event: Any) -> bool:
    """Whether a tracker event (a dict) is a bot message pushed into the conversation."""
    if not isinstance(event, dict) or event.get("event") != "bot":
        return False
    metadata = event.get("metadata")
    if not isinstance(metadata, dict):
        return False
    return metadata.get(PUSHED_METADATA_KEY) is True or metadata.get("utter_action") in PUSHED_RESPONSES


MAX_PUSHED_MESSAGES = 20


def _pushed_message(event: dict) -> dict:
    """A pushed bot event in the REST channel's message shape, with its server timestamp (the widget's cursor)."""
    message: dict = {"text": event.get("text") or "", "timestamp": event["timestamp"]}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    buttons = data.get("buttons") or data.get("quick_replies") or []
    shown = [{"title": b.get("title"), "payload": b.get("payload")} for b in buttons if isinstance(b, dict)]
    if shown:
        message["buttons"] = shown
    return message


def pushed_after(events: list, after: float | None) -> tuple[list[dict], float]:
    """The bot messages pushed into a conversation after the server time ``after`` (at most the last
    MAX_PUSHED_MESSAGES, oldest first), and the cursor to ask with next time (the latest event's time).

    Without ``after`` (a widget that never asked) nothing counts as missed: only the cursor is returned.
    """
    stamped = [e for e in events if isinstance(e, dict) and isinstance(e.get("timestamp"), (int, float))]
    latest = max((float(e["timestamp"]) for e in stamped), default=0.0)
    if after is None:
        return [], latest
    missed = [_pushed_message(e) for e in stamped if is_pushed(e) and e["timestamp"] > after]
    return missed[-MAX_PUSHED_MESSAGES:], max(latest, after)
