"""Rasa input channel for a Zalo Official Account (``/webhooks/zalo/`` health, ``/webhooks/zalo/webhook``)."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request

from channels.rest import (
    ACTIONS_DOWN_REPLY,
    EMPTY_MESSAGE_REPLY,
    STORE_DOWN_REPLY,
    TOO_LONG_REPLY,
    ResilientRestInput,
    _failure_source,
    clean_user_text,
)
from channels.zalo.api import DEFAULT_API_BASE, DEFAULT_OAUTH_BASE, TokenStore, ZaloApiClient
from channels.zalo.output import ButtonMemory, ZaloOutput
from channels.zalo.parser import (
    KIND_IGNORE,
    KIND_REPLY,
    MAX_TEXT_CHARS,
    ZaloEvent,
    load_body,
    mask_id,
    parse_choice,
    parse_event,
)
from channels.zalo.signature import SIGNATURE_HEADER, is_fresh, signature_matches, zalo_signature

logger = logging.getLogger(__name__)

REQUIRED_KEYS = {
    "app_id": "ZALO_APP_ID",
    "oa_secret_key": "ZALO_OA_SECRET_KEY",
    "access_token": "ZALO_ACCESS_TOKEN",
    "refresh_token": "ZALO_REFRESH_TOKEN",
}
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOKEN_STORE = ROOT / "var" / "zalo_tokens.json"
BUSY_REPLY = {"status": "busy"}


class DedupeCache:
    """Event ids seen recently (bounded, expiring), so Zalo's retries are processed once."""

    def __init__(self, ttl_seconds: float, max_items: int = 50000) -> None:
        """Create an empty cache."""
        self.ttl_seconds = ttl_seconds
        self.max_items = max_items
        self._seen: "OrderedDict[str, float]" = OrderedDict()

    def add(self, key: str) -> bool:
        """Record ``key``; return False if it was already seen within the time to live."""
        now = time.monotonic()
        while self._seen:
            oldest_key, at = next(iter(self._seen.items()))
            if now - at <= self.ttl_seconds and len(self._seen) < self.max_items:
                break
            self._seen.pop(oldest_key)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def discard(self, key: str) -> None:
        """Forget ``key`` (the event was not accepted, so Zalo's retry must be processed)."""
        self._seen.pop(key, None)


class OrderedDispatcher:
    """Bounded background processing that keeps each user's messages in order.

    Users are spread over ``workers`` queues by a stable hash of their id; one task drains each queue, so two
    messages of the same user are never processed concurrently or out of order.
    """

    def __init__(self, workers: int, capacity: int) -> None:
        """Create the dispatcher; tasks start on the first submit (inside the server's event loop)."""
        self.workers = max(1, int(workers))
        self.per_queue = max(1, -(-int(capacity) // self.workers))
        self._queues: List[asyncio.Queue] = []
        self._tasks: List[asyncio.Task] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._tasks and self._loop is loop:
            return
        self._loop = loop
        self._queues = [asyncio.Queue(maxsize=self.per_queue) for _ in range(self.workers)]
        self._tasks = [loop.create_task(self._run(q)) for q in self._queues]

    @staticmethod
    async def _run(queue: asyncio.Queue) -> None:
        while True:
            job = await queue.get()
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad message must not stop the worker
                logger.exception("Zalo message processing failed")
            finally:
                queue.task_done()

    def submit(self, key: str, job: Callable[[], Awaitable[Any]]) -> bool:
        """Queue ``job`` for ``key``'s queue; False if that queue is full."""
        self._ensure_started()
        queue = self._queues[zlib.crc32(key.encode("utf-8")) % self.workers]
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        return True

    @property
    def pending(self) -> int:
        """Jobs waiting or running."""
        return sum(q.qsize() for q in self._queues)

    async def join(self) -> None:
        """Wait until every queued job is done (used by tests)."""
        for queue in self._queues:
            await queue.join()


class ZaloInput(InputChannel):
    """Zalo OA webhook: verifies signatures, rejects replays and duplicates, answers in the background."""

    @classmethod
    def name(cls) -> Text:
        """Routes live under ``/webhooks/zalo/``."""
        return "zalo"

    def __init__(
        self,
        app_id: str,
        oa_secret_key: str,
        access_token: str,
        refresh_token: str,
        api_base: str = DEFAULT_API_BASE,
        oauth_base: str = DEFAULT_OAUTH_BASE,
        timestamp_window_seconds: float = 300.0,
        token_store_path: Optional[str] = None,
        queue_capacity: int = 1000,
        workers: int = 4,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_message_chars: int = 2000,
        send_retries: int = 3,
        retry_backoff_seconds: float = 0.5,
        app_secret_key: Optional[str] = None,
        action_health_url: Optional[str] = None,
    ) -> None:
        """Create the channel (see :meth:`from_credentials` for the ``credentials.yml`` keys)."""
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.timestamp_window_seconds = float(timestamp_window_seconds)
        self.max_text_chars = int(max_text_chars)
        self.max_message_chars = int(max_message_chars)
        path = Path(token_store_path) if token_store_path else DEFAULT_TOKEN_STORE
        tokens = TokenStore(path if path.is_absolute() else ROOT / path, access_token, refresh_token)
        self.client = ZaloApiClient(
            app_id,
            app_secret_key or oa_secret_key,
            tokens,
            api_base=api_base or DEFAULT_API_BASE,
            oauth_base=oauth_base or DEFAULT_OAUTH_BASE,
            max_retries=send_retries,
            backoff_seconds=retry_backoff_seconds,
        )
        self.memory = ButtonMemory()
        self.dedupe = DedupeCache(ttl_seconds=max(2 * self.timestamp_window_seconds, 600.0))
        self.dispatcher = OrderedDispatcher(workers, queue_capacity)
        self.rejected = {"signature": 0, "stale": 0, "malformed": 0, "duplicate": 0, "busy": 0}
        self._actions = ResilientRestInput(action_health_url=action_health_url)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ZaloInput":
        """Build the channel from its ``credentials.yml`` section (values usually ``${ZALO_...}``)."""
        if not credentials:
            cls.raise_missing_credentials_exception()
        creds = {k: ("" if v is None else v) for k, v in credentials.items()}
        missing = [env for key, env in REQUIRED_KEYS.items() if not str(creds.get(key, "")).strip()]
        if missing:
            raise RasaException(
                "Kênh Zalo thiếu cấu hình / Zalo channel is missing settings: " + ", ".join(missing)
            )
        optional = {
            key: creds[key]
            for key in (
                "timestamp_window_seconds", "token_store_path", "queue_capacity", "workers", "max_text_chars",
                "max_message_chars", "send_retries", "retry_backoff_seconds", "app_secret_key", "action_health_url",
            )
            if creds.get(key) not in (None, "")
        }
        return cls(
            app_id=str(creds["app_id"]).strip(),
            oa_secret_key=str(creds["oa_secret_key"]).strip(),
            access_token=str(creds["access_token"]).strip(),
            refresh_token=str(creds["refresh_token"]).strip(),
            api_base=str(creds.get("api_base") or DEFAULT_API_BASE).strip(),
            oauth_base=str(creds.get("oauth_base") or DEFAULT_OAUTH_BASE).strip(),
            **optional,
        )

    def get_output_channel(self) -> ZaloOutput:
        """A fresh output channel (used by Rasa for proactive messages)."""
        return ZaloOutput(self.client, self.memory, self.max_text_chars)

    # --- request handling ------------------------------------------------------------------------

    async def handle_webhook(
        self,
        raw_body: bytes,
        signature: Optional[str],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> Tuple[int, Dict[str, Any]]:
        """Check one webhook call and queue its processing; returns (HTTP status, JSON body) at once."""
        try:
            payload = load_body(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
            self.rejected["malformed"] += 1
            logger.warning("Zalo webhook rejected: body is not a JSON object (%d bytes)", len(raw_body))
            return 400, {"status": "malformed"}
        timestamp = "" if payload.get("timestamp") is None else str(payload.get("timestamp"))
        expected = zalo_signature(self.app_id, raw_body, timestamp, self.oa_secret_key)
        if not signature_matches(signature, expected):
            self.rejected["signature"] += 1
            logger.warning(
                "Zalo webhook rejected: %s signature (event %s)",
                "missing" if not signature else "invalid",
                str(payload.get("event_name", "?"))[:40],
            )
            return 401, {"status": "invalid signature"}
        if not is_fresh(timestamp, self.timestamp_window_seconds):
            self.rejected["stale"] += 1
            logger.warning("Zalo webhook rejected: timestamp outside the %.0f s window", self.timestamp_window_seconds)
            return 403, {"status": "stale"}
        event = parse_event(payload)
        if event.kind == KIND_IGNORE:
            return 200, {"status": "ignored"}
        if not self.dedupe.add(event.dedupe_key):
            self.rejected["duplicate"] += 1
            logger.info("Zalo webhook duplicate ignored (%s from %s)", event.event_name, mask_id(event.user_id))
            return 200, {"status": "duplicate"}

        async def job() -> None:
            await self.process_event(event, on_new_message)

        if not self.dispatcher.submit(event.user_id, job):
            self.dedupe.discard(event.dedupe_key)
            self.rejected["busy"] += 1
            logger.error("Zalo queue full; asked Zalo to retry later (%s)", mask_id(event.user_id))
            return 503, BUSY_REPLY
        return 200, {"status": "accepted"}

    async def process_event(self, event: ZaloEvent, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Answer one accepted event: a fixed reply, an input-check reply, or a full Rasa turn."""
        out = ZaloOutput(self.client, self.memory, self.max_text_chars)
        if event.kind == KIND_REPLY:
            await out.send_text_message(event.user_id, event.reply)
            return
        text = clean_user_text(event.text).strip()  # no NUL/control characters or lone surrogates; NFC
        options = self.memory.take(event.user_id)
        if not text:
            await out.send_text_message(event.user_id, EMPTY_MESSAGE_REPLY)
            return
        if len(text) > self.max_message_chars:
            limit = f"{self.max_message_chars:,}".replace(",", ".")
            await out.send_text_message(event.user_id, TOO_LONG_REPLY.format(limit=limit))
            return
        choice = parse_choice(text)
        if choice is not None and 1 <= choice <= len(options) and options[choice - 1]:
            text = options[choice - 1]
        message = UserMessage(
            text,
            out,
            event.user_id,
            input_channel=self.name(),
            message_id=event.msg_id or None,
            metadata={"channel": "zalo", "event_name": event.event_name, "timestamp": event.timestamp},
        )
        try:
            await on_new_message(message)
        except Exception as exc:  # noqa: BLE001 - a store failed (tracker disk full, database down): as channels/rest.py
            # Only the exception's type: SQL errors quote their parameters, i.e. the citizen's message.
            logger.error("Zalo message from %s not handled: %s failed (%s); sent apology.", mask_id(event.user_id),
                         _failure_source(exc), type(exc).__name__)
            await out.send_text_message(event.user_id, STORE_DOWN_REPLY)
            return
        if out.sent_messages == 0 and not await self._actions.action_server_is_up():
            logger.error("Action server unreachable; sent apology to Zalo user %s", mask_id(event.user_id))
            await out.send_text_message(event.user_id, ACTIONS_DOWN_REPLY)

    def health(self) -> Dict[str, Any]:
        """The channel's state for ``GET /webhooks/zalo/`` (no tokens, no user data)."""
        return {
            "status": "degraded" if self.client.health.degraded else "ok",
            "api": self.client.health.as_dict(),
            "rejected": dict(self.rejected),
            "queue": {
                "pending": self.dispatcher.pending,
                "capacity": self.dispatcher.per_queue * self.dispatcher.workers,
            },
        }

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Sanic routes: ``GET /`` health and ``POST /webhook`` for Zalo's events."""
        bp = Blueprint("zalo_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> response.HTTPResponse:
            return response.json(self.health())

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> response.HTTPResponse:
            status, body = await self.handle_webhook(
                request.body or b"", request.headers.get(SIGNATURE_HEADER), on_new_message
            )
            return response.json(body, status=status)

        return bp
