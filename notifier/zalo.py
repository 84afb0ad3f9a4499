"""Zalo OA delivery of notifications: a consultation message (``/v3.0/oa/message/cs``, the channel's own send
call) while the citizen's last message is within the OA's consultation window (Zalo: 48 hours), a transaction
(template) message (``/v3.0/oa/message/transaction``) outside it.

The OA's access token is the pair in the token file shared with the Rasa channel (core.zalo_tokens): the notifier
reads the file before each call; when Zalo rejects the token it refreshes the pair through the shared cross-process
protocol (one refresh however many processes saw the token expire) and retries the call once.

Zalo's send calls take no idempotency key. When a worker died during a send, the next one reads the OA's
conversation with the user (``GET /v2.0/oa/conversation``, at most 10 messages a page, newest first) for a message
the OA sent with the notification's exact text since the interrupted attempt started. A match means it arrived; no
match back to that moment means it did not; an unreadable history, or an OA message of another type since then whose
content the history does not show, means the notifier cannot tell.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Callable

import requests

from core.appcode import mask_code
from core.db import now_vn
from core.notifications.delivery import DeliveryResult, Notifier
from core.notifications.subscriptions import Subscription
from core.zalo_tokens import REFRESH_PATH, RefreshCall, ZaloApiError, refresh_answer, refresh_request, token_rejected

log = logging.getLogger(__name__)

CS_PATH = "/v3.0/oa/message/cs"
CONVERSATION_PATH = "/v2.0/oa/conversation"
HISTORY_PAGE = 10  # Zalo refuses a larger count (-210)
HISTORY_MAX_PAGES = 5  # read at most this many pages back to the interrupted attempt
CLOCK_SKEW = timedelta(minutes=2)  # our clock against Zalo's message times
OA_SENT = 0  # a history message's ``src``: 0 sent by the OA, 1 by the user
TRANSACTION_PATH = "/v3.0/oa/message/transaction"
TEMPLATE_TYPE = "transaction_order"
MAX_CS_CHARS = 2000
MAX_TEMPLATE_TEXT_CHARS = 1000
HEADER = "Cập nhật trạng thái hồ sơ"
UNSUBSCRIBE_BUTTON = {"title": "Hủy thông báo", "type": "oa.query.show", "payload": "hủy thông báo"}


def token_exchange(oauth_base: str, app_id: str, secret_key: str, timeout_s: float = 10.0) -> RefreshCall:
    """The blocking refresh call (``POST {oauth_base}/v4/oa/access_token``) for :meth:`TokenStore.refresh`."""

    def exchange(refresh_token: str) -> tuple[str, str]:
        form, headers = refresh_request(app_id, secret_key, refresh_token)
        try:
            response = requests.post(oauth_base.rstrip("/") + REFRESH_PATH, data=form, headers=headers,
                                     timeout=timeout_s)
        except requests.RequestException as exc:
            raise ZaloApiError("refresh_unreachable", f"token refresh failed: {type(exc).__name__}") from exc
        return refresh_answer(response.status_code, _json_object(response))

    return exchange


def _json_object(response: requests.Response) -> dict:
    """The answer's JSON object ({} when it is not one)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


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
                 clock: Callable[[], datetime] = now_vn, timeout_s: float = 10.0,
                 refresh: Callable[[str], object] | None = None) -> None:
        """``token()`` is the current access token; ``refresh(rejected_token)`` replaces a rejected one (e.g.
        ``TokenStore.refresh`` with :func:`token_exchange`), raising :class:`ZaloApiError` when Zalo refuses."""
        self.api_base = api_base.rstrip("/")
        self.token = token
        self.refresh = refresh
        self.last_user_message_at = last_user_message_at
        self.cs_window = cs_window
        self.clock = clock
        self.timeout_s = timeout_s

    def in_cs_window(self, user_id: str) -> bool:
        """Whether the user's last message is recent enough for a consultation message."""
        last = self.last_user_message_at(user_id)
        return last is not None and self.clock() - last <= self.cs_window

    def deliver(self, subscription: Subscription, text: str, outbox_id: int) -> DeliveryResult:
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
            response = self._call("POST", path, json=body)
        except requests.RequestException as exc:
            return DeliveryResult(ok=False, route=route, error=f"Zalo API unreachable: {type(exc).__name__}")
        except ZaloApiError as exc:
            return DeliveryResult(ok=False, route=route, error=f"Zalo access token refresh failed ({exc.code})")
        data = _json_object(response)
        code = data.get("error")
        if response.status_code == 200 and code == 0:
            return DeliveryResult(ok=True, route=route)
        if response.status_code == 429 or response.status_code >= 500:
            return DeliveryResult(ok=False, route=route, error=f"Zalo API HTTP {response.status_code}")
        if token_rejected(response.status_code, code):
            return DeliveryResult(ok=False, route=route, error=f"Zalo access token rejected ({code})")
        message = str(data.get("message") or f"HTTP {response.status_code}")
        return DeliveryResult(ok=False, route=route, error=f"Zalo error {code}: {message}", permanent=True)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One OpenAPI call with the current access token; when Zalo rejects the token, refresh it (if this
        notifier can) and call once more."""
        token = self.token()
        response = requests.request(method, self.api_base + path, headers={"access_token": token},
                                    timeout=self.timeout_s, **kwargs)
        if self.refresh is None or not token_rejected(response.status_code, _json_object(response).get("error")):
            return response
        log.info("Zalo access token rejected; refreshing it")
        self.refresh(token)
        return requests.request(method, self.api_base + path, headers={"access_token": self.token()},
                                timeout=self.timeout_s, **kwargs)

    def _history_page(self, user_id: str, offset: int) -> list[dict] | None:
        """One page of the OA's conversation with ``user_id``, newest first; None when Zalo does not give it."""
        query = {"user_id": int(user_id) if user_id.isdigit() else user_id, "offset": offset, "count": HISTORY_PAGE}
        try:
            response = self._call("GET", CONVERSATION_PATH, params={"data": json.dumps(query)})
        except (requests.RequestException, ZaloApiError):
            return None
        data = _json_object(response)
        if response.status_code != 200 or data.get("error") != 0:
            return None
        messages = data.get("data")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else None

    def already_delivered(self, subscription: Subscription, text: str, outbox_id: int,
                          since: datetime) -> bool | None:
        """Whether the OA's conversation with the subscriber shows ``text`` sent since ``since`` (see the module
        docstring); None when it cannot tell."""
        texts = {text[:MAX_CS_CHARS], text[:MAX_TEMPLATE_TEXT_CHARS]}
        cutoff_ms = (since - CLOCK_SKEW).timestamp() * 1000
        unreadable = False  # an OA message since the cutoff whose content the history does not show
        for page in range(HISTORY_MAX_PAGES):
            messages = self._history_page(subscription.sender_id, page * HISTORY_PAGE)
            if messages is None:
                return None
            for message in messages:
                at_ms = _number(message.get("time"))
                if at_ms is not None and at_ms < cutoff_ms:
                    return None if unreadable else False
                if message.get("src") != OA_SENT:
                    continue
                content = message.get("message")
                if isinstance(content, str) and content in texts:
                    return True
                if message.get("type") != "text" or at_ms is None:
                    unreadable = True
            if len(messages) < HISTORY_PAGE:
                return None if unreadable else False
        return None


def _number(value: Any) -> float | None:
    """A history message's time (ms) as a number; None when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
