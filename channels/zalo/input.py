"""Rasa input channel for a Zalo Official Account (``/webhooks/zalo/`` health, ``/webhooks/zalo/webhook``)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import zlib
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request

from channels import process
from channels.action_health import DEFAULT_ACTION_HEALTH_URL, action_server_is_up
from channels.input_rules import MAX_MESSAGE_CHARS, check_user_text
from channels.turn import actions_down_reply, run_turn, store_down_reply
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
from channels.zalo.seen import seen_store_from_setting
from channels.zalo.signature import SIGNATURE_HEADER, is_fresh, signed_timestamp

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
# Optional credentials.yml keys -> the keyword argument they set, of ZaloInput and of its ZaloApiClient.
CHANNEL_KEYS = {key: key for key in ("timestamp_window_seconds", "queue_capacity", "workers", "max_text_chars",
                                     "max_message_chars", "action_health_url", "seen_store", "health_token")}
CLIENT_KEYS = {"send_retries": "max_retries", "retry_backoff_seconds": "backoff_seconds"}


def _given(creds: Dict[Text, Any], keys: Dict[str, str]) -> Dict[str, Any]:
    """The keyword arguments named by ``keys`` for the credentials that are set (not None or empty)."""
    return {arg: creds[key] for key, arg in keys.items() if creds.get(key) not in (None, "")}


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
        client: ZaloApiClient,
        timestamp_window_seconds: float = 300.0,
        queue_capacity: int = 1000,
        workers: int = 4,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_message_chars: int = MAX_MESSAGE_CHARS,
        action_health_url: Optional[str] = None,
        seen_store: Optional[str] = None,
        health_token: Optional[str] = None,
    ) -> None:
        """Create the channel around ``client`` (the OA's send and token-refresh calls); :meth:`from_credentials`
        builds both from the ``credentials.yml`` keys."""
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.client = client
        self.timestamp_window_seconds = float(timestamp_window_seconds)
        self.max_text_chars = int(max_text_chars)
        self.max_message_chars = int(max_message_chars)
        self.memory = ButtonMemory()
        # Accepted event ids outlive the process (SQLite file, or Redis for several replicas): a replay inside the
        # timestamp window is refused after a restart or by another replica too.
        self.seen = seen_store_from_setting(seen_store, ROOT)
        self.seen_ttl_seconds = max(2 * self.timestamp_window_seconds, 600.0)
        # GET /webhooks/zalo/ shows counters and the last API error only to a caller with this bearer token.
        self.health_token = (health_token or "").strip()
        self.dispatcher = OrderedDispatcher(workers, queue_capacity)
        self.rejected = {"signature": 0, "stale": 0, "malformed": 0, "duplicate": 0, "busy": 0}
        self.action_health_url = action_health_url or DEFAULT_ACTION_HEALTH_URL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ZaloInput":
        """Build the channel from its ``credentials.yml`` section (values usually ``${ZALO_...}``); Rasa does this
        once, at start-up."""
        process.setup()
        if not credentials:
            cls.raise_missing_credentials_exception()
        creds = {k: ("" if v is None else v) for k, v in credentials.items()}
        missing = [env for key, env in REQUIRED_KEYS.items() if not str(creds.get(key, "")).strip()]
        if missing:
            raise RasaException(
                "Kênh Zalo thiếu cấu hình / Zalo channel is missing settings: " + ", ".join(missing)
            )
        app_id = str(creds["app_id"]).strip()
        oa_secret_key = str(creds["oa_secret_key"]).strip()
        path = Path(creds.get("token_store_path") or DEFAULT_TOKEN_STORE)
        tokens = TokenStore(path if path.is_absolute() else ROOT / path, str(creds["access_token"]).strip(),
                            str(creds["refresh_token"]).strip())
        client = ZaloApiClient(
            app_id,
            creds.get("app_secret_key") or oa_secret_key,
            tokens,
            api_base=str(creds.get("api_base") or "").strip() or DEFAULT_API_BASE,
            oauth_base=str(creds.get("oauth_base") or "").strip() or DEFAULT_OAUTH_BASE,
            **_given(creds, CLIENT_KEYS),
        )
        return cls(app_id, oa_secret_key, client, **_given(creds, CHANNEL_KEYS))

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
        """Check one webhook call and queue its processing; returns (HTTP status, JSON body) at once.

        The signature is checked on the raw bytes first (its timestamp read by a bounded pattern); only a signed
        body is parsed as JSON.
        """
        timestamp = signed_timestamp(self.app_id, raw_body, signature, self.oa_secret_key)
        if timestamp is None:
            self.rejected["signature"] += 1
            logger.warning("Zalo webhook rejected: %s signature (%d bytes)", "missing" if not signature else "invalid",
                           len(raw_body))
            return 401, {"status": "invalid signature"}
        try:
            payload = load_body(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
            payload = None
        if payload is None or str(payload.get("timestamp", "")) != timestamp:
            self.rejected["malformed"] += 1
            logger.warning("Zalo webhook rejected: signed body is not a JSON object with that timestamp (%d bytes)",
                           len(raw_body))
            return 400, {"status": "malformed"}
        if not is_fresh(timestamp, self.timestamp_window_seconds):
            self.rejected["stale"] += 1
            logger.warning("Zalo webhook rejected: timestamp outside the %.0f s window", self.timestamp_window_seconds)
            return 403, {"status": "stale"}
        event = parse_event(payload)
        if event.kind == KIND_IGNORE:
            return 200, {"status": "ignored"}
        seen_key = f"{self.app_id}:{event.dedupe_key}"
        try:
            first_time = await asyncio.to_thread(self.seen.add, seen_key, self.seen_ttl_seconds)
        except Exception as exc:  # noqa: BLE001 - the store is down: refuse, Zalo retries later
            self.rejected["busy"] += 1
            logger.error("Zalo seen-event store unavailable (%s); asked Zalo to retry later", type(exc).__name__)
            return 503, BUSY_REPLY
        if not first_time:
            self.rejected["duplicate"] += 1
            logger.info("Zalo webhook duplicate ignored (%s from %s)", event.event_name, mask_id(event.user_id))
            return 200, {"status": "duplicate"}

        async def job() -> None:
            await self.process_event(event, on_new_message)

        if not self.dispatcher.submit(event.user_id, job):
            await asyncio.to_thread(self.seen.discard, seen_key)
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
        text, refusal = check_user_text(event.text, self.max_message_chars)
        options = self.memory.take(event.user_id)
        if refusal:
            await out.send_text_message(event.user_id, refusal)
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
        turn = await run_turn(message, on_new_message)
        if turn.failure:
            # A store failed during this turn (tracker disk full, database down: channels/turn.py). What Rasa
            # answered is already delivered; the apology asks the citizen to send the message again.
            logger.error("Zalo message from %s not handled: %s; sent apology.", mask_id(event.user_id),
                         turn.failure)
            await out.send_text_message(event.user_id, store_down_reply())
            return
        if out.sent_messages == 0 and not await self.action_server_is_up():
            logger.error("Action server unreachable; sent apology to Zalo user %s", mask_id(event.user_id))
            await out.send_text_message(event.user_id, actions_down_reply())

    async def action_server_is_up(self) -> bool:
        """Whether the action server answers its health route within a second."""
        return await action_server_is_up(self.action_health_url)

    def health(self) -> Dict[str, Any]:
        """The channel's full state (no tokens, no user data), shown by ``GET /webhooks/zalo/`` to an operator."""
        return {
            "status": "degraded" if self.client.health.degraded else "ok",
            "api": self.client.health.as_dict(),
            "rejected": dict(self.rejected),
            "queue": {
                "pending": self.dispatcher.pending,
                "capacity": self.dispatcher.per_queue * self.dispatcher.workers,
            },
        }

    def health_view(self, authorization: Optional[str]) -> Dict[str, Any]:
        """What ``GET /webhooks/zalo/`` shows: the full state to an operator, a bare status to anyone else."""
        state = self.health()
        return state if self.authorised_for_details(authorization) else {"status": state["status"]}

    def authorised_for_details(self, authorization: Optional[str]) -> bool:
        """Whether an ``Authorization: Bearer <health_token>`` header was sent (constant-time comparison)."""
        if not self.health_token or not authorization:
            return False
        return hmac.compare_digest(authorization.strip().encode("utf-8"),
                                   f"Bearer {self.health_token}".encode("utf-8"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Sanic routes: ``GET /`` health and ``POST /webhook`` for Zalo's events."""
        bp = Blueprint("zalo_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> response.HTTPResponse:
            return response.json(self.health_view(request.headers.get("authorization")))

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> response.HTTPResponse:
            status, body = await self.handle_webhook(
                request.body or b"", request.headers.get(SIGNATURE_HEADER), on_new_message
            )
            return response.json(body, status=status)

        return bp
