"""Zalo OA webhook signature (``X-ZEvent-Signature``) and replay-window checks."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import List, Optional

SIGNATURE_HEADER = "X-ZEvent-Signature"
SIGNATURE_PREFIX = "mac="


def zalo_signature(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """Return the value Zalo puts in ``X-ZEvent-Signature`` for one webhook call.

    Formula (Zalo OA webhook documentation): ``"mac=" + hex(sha256(app_id + raw_body + timestamp + oa_secret_key))``
    where ``raw_body`` is the exact request body as received (bytes, not re-serialised JSON), ``timestamp`` is the
    ``timestamp`` field of that body (a string of milliseconds) and ``oa_secret_key`` is the "OA Secret Key" shown in
    the app's webhook settings on developers.zalo.me. If a province's Zalo app is configured differently, this is
    the only function to change.
    """
    digest = hashlib.sha256()
    digest.update(app_id.encode("utf-8"))
    digest.update(raw_body)
    digest.update(timestamp.encode("utf-8"))
    digest.update(secret_key.encode("utf-8"))
    return SIGNATURE_PREFIX + digest.hexdigest()


def signature_matches(received: Optional[str], expected: str) -> bool:
    """Constant-time comparison of a received signature header with the expected one (hex case ignored)."""
    if not received:
        return False
    return hmac.compare_digest(received.strip().lower().encode("utf-8"), expected.lower().encode("utf-8"))


# A "timestamp" member in the raw body (string or number of digits). The signature covers the body's timestamp, so
# it is read from the raw bytes with this bounded pattern: nothing is parsed as JSON before the signature holds.
_BODY_TIMESTAMP_RE = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,16})"?')
MAX_TIMESTAMP_CANDIDATES = 4


def body_timestamps(raw_body: bytes) -> List[str]:
    """The distinct ``"timestamp"`` values written in ``raw_body``, first ones first (at most a few)."""
    found: List[str] = []
    for match in _BODY_TIMESTAMP_RE.finditer(raw_body):
        value = match.group(1).decode("ascii")
        if value not in found:
            found.append(value)
            if len(found) == MAX_TIMESTAMP_CANDIDATES:
                break
    return found


def signed_timestamp(app_id: str, raw_body: bytes, received: Optional[str], secret_key: str) -> Optional[str]:
    """The body timestamp under which ``received`` is the valid signature of ``raw_body``, or None (forged)."""
    if not received:
        return None
    for timestamp in body_timestamps(raw_body):
        if signature_matches(received, zalo_signature(app_id, raw_body, timestamp, secret_key)):
            return timestamp
    return None


def timestamp_ms(value: object) -> Optional[int]:
    """Zalo's ``timestamp`` (string of epoch milliseconds) as an int; seconds are accepted too. None if invalid."""
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 16:
        return None
    number = int(text)
    return number * 1000 if number < 10**11 else number


def is_fresh(value: object, window_seconds: float, now: Optional[float] = None) -> bool:
    """Whether an event timestamp lies within ``window_seconds`` of now (both directions, to stop replays)."""
    ts = timestamp_ms(value)
    if ts is None:
        return False
    now_ms = (time.time() if now is None else now) * 1000
    return abs(now_ms - ts) <= window_seconds * 1000
