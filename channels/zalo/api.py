"""Client for the Zalo OA OpenAPI: send consultation messages, refresh tokens, retry, remember failures."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://openapi.zalo.me"
DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"
# Zalo OpenAPI codes meaning "the access token is invalid or has expired": refresh it and retry once.
TOKEN_ERROR_CODES = (-216, -124)


class ZaloApiError(Exception):
    """A send or refresh that failed for good (after retries, or a permanent error)."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class TokenStore:
    """The OA access/refresh token pair, kept durably in a JSON file readable only by its owner (0600).

    Zalo refresh tokens are single-use: each refresh returns a new one that must survive restarts. The file
    remembers which refresh token from the environment it was seeded with; when the operator puts a different
    ``ZALO_REFRESH_TOKEN`` in the environment (e.g. after re-authorising the app), the environment wins again.
    """

    def __init__(self, path: Path, access_token: str, refresh_token: str) -> None:
        """Load the pair from ``path`` if it is newer than the given (environment) pair, else seed it."""
        self.path = Path(path)
        self.seed_refresh_token = refresh_token
        self.access_token = access_token
        self.refresh_token = refresh_token
        stored = self._read()
        if stored and stored.get("seed_refresh_token") == refresh_token and stored.get("refresh_token"):
            self.access_token = str(stored.get("access_token") or access_token)
            self.refresh_token = str(stored["refresh_token"])
        else:
            self.save(access_token, refresh_token)

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, access_token: str, refresh_token: str) -> None:
        """Atomically replace the stored pair (temp file with mode 0600, fsync, rename)."""
        self.access_token, self.refresh_token = access_token, refresh_token
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "seed_refresh_token": self.seed_refresh_token,
            "updated_at": _now_iso(),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


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

    async def refresh(self, rejected_token: str) -> None:
        """Exchange the refresh token for a new pair (once, even if several sends saw the expired token)."""
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if self.tokens.access_token != rejected_token:
                return  # another worker refreshed meanwhile
            form = {
                "refresh_token": self.tokens.refresh_token,
                "app_id": self.app_id,
                "grant_type": "refresh_token",
            }
            headers = {"secret_key": self.secret_key}
            try:
                status, data = await self._post(self.oauth_base + REFRESH_PATH, data=form, headers=headers)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                raise ZaloApiError("refresh_unreachable", f"token refresh failed: {type(exc).__name__}") from exc
            if status != 200 or not data or not data.get("access_token") or not data.get("refresh_token"):
                code = self._error_code(data) if data else f"http_{status}"
                reason = (data or {}).get("error_name") or (data or {}).get("message") or "no token in answer"
                raise ZaloApiError(code if code is not None else f"http_{status}", f"token refresh refused: {reason}")
            self.tokens.save(str(data["access_token"]), str(data["refresh_token"]))
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
