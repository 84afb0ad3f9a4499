"""Adapter to a province's one-stop system ("Hệ thống thông tin giải quyết TTHC") over its REST contract.

The contract is ``docs/openapi/one-stop-status.yaml``: ``GET /api/v1/applications/{code}`` with the
verification factor in the ``X-Verification`` header (never in the URL, which ends up in access logs),
``200`` with the application, ``404`` for an unknown code or a wrong factor alike; ``GET /api/v1/health``.

Resilience: a per-attempt timeout, retries with backoff on the idempotent GETs (connection errors,
timeouts, 502/503/504), and a circuit breaker that fails fast after repeated failures, so a down system
costs the citizen one quick "thử lại sau" instead of a long wait on every message.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable
from urllib.parse import quote

from core.appcode import extract_application_code, mask_code
from core.status.base import StatusBackend, StatusBackendError, normalize_verification
from core.status.models import ApplicationStatus

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})


class CircuitOpenError(StatusBackendError):
    """The circuit breaker is open: the one-stop system failed repeatedly and is not called for now."""


class CircuitBreaker:
    """Closed → (``failure_threshold`` consecutive failures) → open for ``reset_after_s`` → half-open:
    one trial call; its success closes the circuit, its failure opens it again."""

    def __init__(self, failure_threshold: int = 5, reset_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """"closed", "open" or "half-open"."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.reset_after_s:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Raise :class:`CircuitOpenError` unless a call may go through now."""
        with self._lock:
            state = self._state()
            if state == "open" or (state == "half-open" and self._trial_running):
                raise CircuitOpenError("hệ thống một cửa tạm thời không phản hồi")
            if state == "half-open":
                self._trial_running = True

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        """A call failed: count it; open the circuit at the threshold or when a half-open trial fails."""
        with self._lock:
            half_open = self._state() == "half-open"
            self._failures += 1
            self._trial_running = False
            if half_open or self._failures >= self.failure_threshold:
                self._opened_at = self.clock()


class HttpStatusBackend(StatusBackend):
    """Status lookups in the one-stop system through its REST contract."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 3.0, retries: int = 2,
                 backoff_s: float = 0.2, breaker: CircuitBreaker | None = None, session=None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.breaker = breaker or CircuitBreaker()
        self._session = session
        self._session_lock = threading.Lock()

    def _http(self):
        with self._session_lock:
            if self._session is None:
                import requests  # local: only the HTTP profile needs it

                self._session = requests.Session()
            return self._session

    def _get(self, path: str, headers: dict[str, str], *, json_body: dict | None = None):
        """GET (POST with ``json_body``) with retries on transient failures, guarded by the circuit breaker; the
        final response."""
        import requests

        self.breaker.before_call()
        if self.token:
            headers = {**headers, "Authorization": f"Bearer {self.token}"}
        last_error: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                response = self._http().request("GET" if json_body is None else "POST", self.base_url + path,
                                                headers=headers, json=json_body, timeout=self.timeout_s)
            except requests.RequestException as exc:
                last_error = type(exc).__name__
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                break
            self.breaker.record_success()
            return response
        self.breaker.record_failure()
        raise StatusBackendError(f"one-stop system unavailable: {last_error}")

    def lookup(self, code: str, verification: str) -> ApplicationStatus | None:
        """See :meth:`StatusBackend.lookup`; the one-stop system does the verification."""
        canonical = extract_application_code(code)
        factor = normalize_verification(verification)
        if canonical is None or factor is None:
            return None
        response = self._get(f"/api/v1/applications/{quote(canonical)}", {"X-Verification": factor,
                                                                             "Accept": "application/json"})
        if response.status_code == 404:
            log.info("one-stop lookup %s: no match", mask_code(canonical))
            return None
        if response.status_code != 200:
            raise StatusBackendError(f"one-stop system answered HTTP {response.status_code}")
        try:
            return ApplicationStatus.from_dict(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise StatusBackendError("one-stop system sent a malformed application") from exc

    def statuses(self, codes: list[str]) -> list[dict]:
        """The current status of each known code (``POST /api/v1/applications/statuses``, the polling fallback of the
        notifications; an integration call with the bearer token, no personal data in the answer)."""
        response = self._get("/api/v1/applications/statuses", {"Accept": "application/json"},
                             json_body={"codes": list(codes)})
        if response.status_code != 200:
            raise StatusBackendError(f"one-stop system answered HTTP {response.status_code}")
        try:
            items = response.json()["applications"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StatusBackendError("one-stop system sent a malformed status list") from exc
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def health(self) -> bool:
        """True when ``GET /api/v1/health`` answers 200 (False while the circuit is open)."""
        try:
            return self._get("/api/v1/health", {"Accept": "application/json"}).status_code == 200
        except StatusBackendError:
            return False
