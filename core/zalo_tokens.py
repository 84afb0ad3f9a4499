"""The Zalo OA token pair shared by every process that calls the OA's API (the Rasa channel, the notification
worker), and the one protocol by which any of them refreshes it.

Zalo access tokens expire (about 25 hours) and refresh tokens are single-use: two processes refreshing with the same
refresh token would leave one of them with a pair Zalo no longer accepts. So a refresh happens only under an
exclusive ``fcntl.flock`` on a lock file beside the token file: re-read the file; if the stored access token is not
the one Zalo rejected, another process already refreshed (use its pair); else exchange the stored refresh token and
save the new pair atomically. The HTTP call stays with each caller (aiohttp in the channel, requests in the worker),
passed in as a blocking function; request and answer shapes are here.

Stdlib only: imported from both the Rasa and the action venv.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
REFRESH_PATH = "/v4/oa/access_token"
# Zalo OpenAPI codes meaning "the access token is invalid or has expired": refresh it and retry once.
TOKEN_ERROR_CODES = (-216, -124)

# A blocking call exchanging a refresh token for a new (access token, refresh token) pair.
RefreshCall = Callable[[str], Tuple[str, str]]


class ZaloApiError(Exception):
    """A send or refresh that failed for good (after retries, or a permanent error)."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def token_rejected(status: int, code: Optional[int]) -> bool:
    """Whether an OpenAPI answer (HTTP status, Zalo ``error`` code) says the access token is invalid or expired."""
    return status == 401 or code in TOKEN_ERROR_CODES


def refresh_request(app_id: str, secret_key: str, refresh_token: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The form and headers of ``POST {oauth_base}/v4/oa/access_token`` for ``refresh_token``."""
    form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
    return form, {"secret_key": secret_key}


def refresh_answer(status: int, data: Optional[Dict[str, Any]]) -> Tuple[str, str]:
    """The new (access token, refresh token) pair of a refresh answer; :class:`ZaloApiError` if it holds none."""
    if status == 200 and data and data.get("access_token") and data.get("refresh_token"):
        return str(data["access_token"]), str(data["refresh_token"])
    code: Any = data.get("error") if data else None
    reason = (data or {}).get("error_name") or (data or {}).get("message") or "no token in answer"
    raise ZaloApiError(code if code is not None else f"http_{status}", f"token refresh refused: {reason}")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class TokenStore:
    """The OA access/refresh token pair, kept durably in a JSON file readable only by its owner (0600).

    Zalo refresh tokens are single-use: each refresh returns a new one that must survive restarts. The file
    remembers which refresh token from the environment it was seeded with; when the operator puts a different
    ``ZALO_REFRESH_TOKEN`` in the environment (e.g. after re-authorising the app), the environment wins again.
    A process given no refresh token only reads the file.
    """

    def __init__(self, path: Path, access_token: str, refresh_token: str) -> None:
        """Load the pair from ``path`` if it is newer than the given (environment) pair, else seed it."""
        self.path = Path(path)
        self.seed_refresh_token = refresh_token
        self.access_token = access_token
        self.refresh_token = refresh_token
        if not refresh_token:
            self._adopt(self._read())
            return
        with self._locked():
            stored = self._read()
            if stored and stored.get("refresh_token") and stored.get("seed_refresh_token") == refresh_token:
                self._adopt(stored)
            else:
                self.save(access_token, refresh_token)

    @property
    def lock_path(self) -> Path:
        """The lock file beside the token file (every process refreshing the pair locks it)."""
        return self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the exclusive cross-process lock (blocking) for the body."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _adopt(self, stored: Optional[Dict[str, Any]]) -> None:
        """Take the stored pair (and its seed) when the file holds one."""
        if stored and stored.get("refresh_token"):
            self.access_token = str(stored.get("access_token") or self.access_token)
            self.refresh_token = str(stored["refresh_token"])
            self.seed_refresh_token = str(stored.get("seed_refresh_token") or self.seed_refresh_token)

    def current(self) -> str:
        """The access token as the file has it now (another process may have refreshed it)."""
        self._adopt(self._read())
        return self.access_token

    def refresh(self, rejected_token: str, exchange: RefreshCall) -> bool:
        """Replace ``rejected_token`` by a fresh pair, refreshing at most once across processes.

        Under the lock: when the file's access token differs from ``rejected_token`` another process already
        refreshed, and its pair is used (False); else ``exchange(stored refresh token)`` is called and its pair
        saved (True). ``exchange`` raises :class:`ZaloApiError` when Zalo refuses; nothing is saved then.
        """
        with self._locked():
            self._adopt(self._read())
            if self.access_token != rejected_token:
                return False
            access_token, refresh_token = exchange(self.refresh_token)
            self.save(access_token, refresh_token)
            return True

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
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
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
