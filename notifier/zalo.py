"""Zalo OA delivery of notifications: a consultation message (``/v3.0/oa/message/cs``, the channel's own send
call) while the citizen's last message is within the OA's consultation window (Zalo: 48 hours), a transaction
(template) message (``/v3.0/oa/message/transaction``) outside it.

The OA's access token is the one the Rasa channel keeps refreshed in its token file (Zalo's refresh tokens are
single-use, so only the channel refreshes): the notifier reads the file before each send, and an expired token is a
transient failure the worker retries after its backoff.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import requests

from core.appcode import mask_code
from core.db import now_vn
from core.notifications.delivery import DeliveryResult, Notifier
from core.notifications.subscriptions import Subscription

log = logging.getLogger(__name__)

CS_PATH = "/v3.0/oa/message/cs"
TRANSACTION_PATH = "/v3.0/oa/message/transaction"
TEMPLATE_TYPE = "transaction_order"
TOKEN_ERROR_CODES = frozenset({-216, -124})
MAX_CS_CHARS = 2000
MAX_TEMPLATE_TEXT_CHARS = 1000
HEADER = "Cập nhật trạng thái hồ sơ"
UNSUBSCRIBE_BUTTON = {"title": "Hủy thông báo", "type": "oa.query.show", "payload": "hủy thông báo"}


def file_token_source(path: Path, fallback: str = "") -> Callable[[], str]:
    """The current access token: the channel's token file (``access_token``), else ``fallback``."""

    def current() -> str:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return fallback
        token = data.get("access_token") if isinstance(data, dict) else None
        return str(token) if token else fallback

    return current


def transaction_payload(subscription: Subscription, text: str) -> dict[str, Any]:
    """The transaction-message template for ``text`` about the subscription's application (code masked)."""
    return {
        "template_type": TEMPLATE_TYPE,
        "language": "VI",
        "elements": [
            {"type": "header", "content": HEADER, "align": "left"},
            {"type": "text", "content": text[:MAX_TEMPLATE_TEXT_CHARS], "align": "left"},
            {"type": "table", "content": [{"key": "Mã hồ sơ", "value": mask_code(subscription.code)}]},
        ],
        "buttons": [dict(UNSUBSCRIBE_BUTTON)],
    }


class ZaloNotifier(Notifier):
    """Sends notifications to Zalo users on behalf of the OA."""

    def __init__(self, api_base: str, token: Callable[[], str],
                 last_user_message_at: Callable[[str], datetime | None], *, cs_window: timedelta,
                 clock: Callable[[], datetime] = now_vn, timeout_s: float = 10.0) -> None:
        self.api_base = api_base.rstrip("/")
        self.token = token
        self.last_user_message_at = last_user_message_at
        self.cs_window = cs_window
        self.clock = clock
        self.timeout_s = timeout_s

    def in_cs_window(self, user_id: str) -> bool:
        """Whether the user's last message is recent enough for a consultation message."""
        last = self.last_user_message_at(user_id)
        return last is not None and self.clock() - last <= self.cs_window

    def deliver(self, subscription: Subscription, text: str) -> DeliveryResult:
        """A consultation message inside the window, a transaction message outside it."""
        recipient = {"user_id": subscription.sender_id}
        if self.in_cs_window(subscription.sender_id):
            route, path = "cs", CS_PATH
            body: dict[str, Any] = {"recipient": recipient, "message": {"text": text[:MAX_CS_CHARS]}}
        else:
            route, path = "template", TRANSACTION_PATH
            body = {"recipient": recipient, "message": {"attachment": {
                "type": "template", "payload": transaction_payload(subscription, text)}}}
        try:
            response = requests.post(self.api_base + path, json=body, headers={"access_token": self.token()},
                                     timeout=self.timeout_s)
        except requests.RequestException as exc:
            return DeliveryResult(ok=False, route=route, error=f"Zalo API unreachable: {type(exc).__name__}")
        try:
            data = response.json()
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        code = data.get("error")
        if response.status_code == 200 and code == 0:
            return DeliveryResult(ok=True, route=route)
        if response.status_code == 429 or response.status_code >= 500:
            return DeliveryResult(ok=False, route=route, error=f"Zalo API HTTP {response.status_code}")
        if response.status_code == 401 or code in TOKEN_ERROR_CODES:
            return DeliveryResult(ok=False, route=route, error=f"Zalo access token rejected ({code})")
        message = str(data.get("message") or f"HTTP {response.status_code}")
        return DeliveryResult(ok=False, route=route, error=f"Zalo error {code}: {message}", permanent=True)
