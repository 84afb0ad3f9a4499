"""Client for the Zalo OA OpenAPI: send consultation messages, refresh tokens, retry, remember failures."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Optional, Tuple

import aiohttp

from core.zalo_tokens import (
    DEFAULT_OAUTH_BASE,
    REFRESH_PATH,
    TOKEN_ERROR_CODES,
    TokenStore,
    ZaloApiError,
    refresh_answer,
    refresh_request,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://openapi.zalo.me"
# The token pair, its store and the refresh protocol are shared with the notification worker (core.zalo_tokens).
__all__ = ["DEFAULT_API_BASE", "DEFAULT_OAUTH_BASE", "ApiHealth", "TokenStore", "ZaloApiClient", "ZaloApiError"]
SEND_PATH = "/v3.0/oa/message/cs"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ApiHealth:
    """Counters and the last error, shown by the channel's health route (no tokens, no user data)."""

    sent: int = 0
    failed: int = 0
    retries: int = 0
    token_refreshes: int = 0
    last_success_at: Optional[str] = None
    last_error: Optional[Dict[str, Any]] = None
    _last_success_mono: float = field(default=0.0, repr=False)
    _last_error_mono: float = field(default=0.0, repr=False)

    def success(self) -> None:
        """Record a delivered message."""
        self.sent += 1
        self.last_success_at = _now_iso()
        self._last_success_mono = time.monotonic()

    def error(self, code: Any, message: str) -> None:
        """Record a message that could not be delivered."""
        self.failed += 1
        self.last_error = {"code": code, "message": message[:300], "at": _now_iso()}
        self._last_error_mono = time.monotonic()

    @property
    def degraded(self) -> bool:
        """True while the most recent outcome is a failure."""
        return self.last_error is not None and self._last_error_mono >= self._last_success_mono

    def as_dict(self) -> Dict[str, Any]:
        """JSON-serialisable view for the health route."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
        }


class ZaloApiClient:
    """Sends text messages with ``POST {api_base}/v3.0/oa/message/cs`` on behalf of the OA.

    * ``error == 0`` in the JSON answer means delivered.
    * A token error (:data:`TOKEN_ERROR_CODES` or HTTP 401) refreshes the token pair once via
      ``POST {oauth_base}/v4/oa/access_token`` and retries; the new refresh token is stored durably.
    * Network errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff.
    * Anything else is permanent: logged and recorded in :class:`ApiHealth`, never raised into Rasa.
    """

    def __init__(
        self,
        app_id: str,
        secret_key: str,
        tokens: TokenStore,
        api_base: str = DEFAULT_API_BASE,
        oauth_base: str = DEFAULT_OAUTH_BASE,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        token_error_codes: Iterable[int] = TOKEN_ERROR_CODES,
    ) -> None:
        """Configure the client; ``secret_key`` is sent as the ``secret_key`` header when refreshing."""
        self.app_id = app_id
        self.secret_key = secret_key
        self.tokens = tokens
        self.api_base = api_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_retries = max(0, int(max_retries))
        self.backoff_seconds = max(0.0, float(backoff_seconds))
        self.token_error_codes = {int(c) for c in token_error_codes}
        self.health = ApiHealth()
        self._refresh_lock: Optional[asyncio.Lock] = None

    async def _post(self, url: str, **kwargs: Any) -> Tuple[int, Optional[Dict[str, Any]]]:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.post(url, **kwargs) as resp:
                text = await resp.text()
                try:
                    data = json.loads(text) if text else None
                except ValueError:
                    data = None
                return resp.status, data if isinstance(data, dict) else None

    @staticmethod
    def _error_code(data: Optional[Dict[str, Any]]) -> Optional[int]:
        if not data or "error" not in data:
            return None
        try:
            return int(data["error"])
        except (TypeError, ValueError):
            return None

    async def _exchange(self, refresh_token: str) -> Tuple[str, str]:
        """One ``POST {oauth_base}/v4/oa/access_token``: the new (access token, refresh token) pair."""
        form, headers = refresh_request(self.app_id, self.secret_key, refresh_token)
        try:
            status, data = await self._post(self.oauth_base + REFRESH_PATH, data=form, headers=headers)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise ZaloApiError("refresh_unreachable", f"token refresh failed: {type(exc).__name__}") from exc
        return refresh_answer(status, data)

    async def refresh(self, rejected_token: str) -> None:
        """Replace the rejected access token (once, even if several sends or processes saw it expire).

        The cross-process protocol (:meth:`TokenStore.refresh`) holds a blocking file lock, so it runs in a thread;
        its refresh call runs on this event loop, which that thread waits for.
        """
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()

        def exchange(refresh_token: str) -> Tuple[str, str]:
            return asyncio.run_coroutine_threadsafe(self._exchange(refresh_token), loop).result()

        async with self._refresh_lock:
            if self.tokens.access_token != rejected_token:
                return  # another send of this process refreshed meanwhile
            if await asyncio.to_thread(self.tokens.refresh, rejected_token, exchange):
                self.health.token_refreshes += 1
                logger.info("Zalo access token refreshed; new refresh token stored in %s", self.tokens.path)

    async def send_text(self, user_id: str, text: str) -> Dict[str, Any]:
        """Deliver one text (≤ 2,000 characters) to ``user_id``; raises :class:`ZaloApiError` if it failed."""
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.access_token
            transient: Optional[str] = None
            try:
                status, data = await self._post(
                    self.api_base + SEND_PATH, json=body, headers={"access_token": token}
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                transient = f"network error: {type(exc).__name__}"
            else:
                code = self._error_code(data)
                if status == 200 and code == 0:
                    self.health.success()
                    return data or {}
                if code in self.token_error_codes or status == 401:
                    if refreshed:
                        raise ZaloApiError(code, "access token rejected right after a refresh")
                    await self.refresh(token)
                    refreshed = True
                    continue
                if status == 429 or status >= 500:
                    transient = f"HTTP {status}"
                else:
                    message = (data or {}).get("message") or f"HTTP {status}"
                    raise ZaloApiError(code if code is not None else f"http_{status}", str(message))
            attempt += 1
            if attempt > self.max_retries:
                raise ZaloApiError("unavailable", f"Zalo API unavailable after {attempt} attempts ({transient})")
            self.health.retries += 1
            delay = self.backoff_seconds * (2 ** (attempt - 1))
            logger.warning("Zalo API %s; retry %d/%d in %.1f s", transient, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)
