"""The one-stop system's signed status-change webhook (``POST /events/status``, docs/openapi/one-stop-status.yaml)
and the polling fallback: both record events through :func:`core.notifications.events.record_status_change`.

Signature: ``X-OneStop-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`` with
``X-OneStop-Timestamp: <unix seconds>``; a timestamp outside the window or a wrong signature is refused (401); an
``event_id`` seen before is acknowledged without effect (idempotent, 200).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Mapping

from core.appcode import extract_application_code, is_canonical_application_code, mask_code
from core.db import Database, as_datetime, now_vn
from core.notifications.events import StatusChangeError, record_status_change
from core.notifications.text import StatusChange
from core.status.models import STATUSES

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-OneStop-Timestamp"
SIGNATURE_HEADER = "X-OneStop-Signature"
MAX_BODY_BYTES = 64 * 1024
MAX_EVENT_ID_CHARS = 100


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The signature header value of ``raw_body`` sent at ``timestamp`` (unix seconds, as text)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + raw_body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signature_valid(secret: str, timestamp: str | None, signature: str | None, raw_body: bytes, *,
                    window_s: float, now_epoch: float | None = None) -> bool:
    """Whether the signature matches (constant-time) and the timestamp is within ``window_s`` of now."""
    if not secret or not timestamp or not signature or not timestamp.isdigit():
        return False
    expected = sign(secret, timestamp, raw_body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        return False
    now = time.time() if now_epoch is None else now_epoch
    return abs(now - int(timestamp)) <= window_s


def _optional_text(data: Mapping, key: str) -> str | None:
    value = data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def change_from_payload(data: object) -> tuple[str, StatusChange]:
    """``(event_id, change)`` of a webhook / polling payload; :class:`StatusChangeError` (400) when malformed."""
    if not isinstance(data, dict):
        raise StatusChangeError("Nội dung sự kiện phải là một đối tượng JSON.")
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID_CHARS:
        raise StatusChangeError("Thiếu mã sự kiện (event_id).")
    code = data.get("code")
    if not isinstance(code, str) or not is_canonical_application_code(code):
        raise StatusChangeError("Mã hồ sơ không đúng dạng (ví dụ H07.99-251120-0012).")
    status = data.get("status")
    if status not in STATUSES:
        raise StatusChangeError("Trạng thái mới không hợp lệ. Các trạng thái: " + ", ".join(STATUSES) + ".")
    try:
        changed_at = as_datetime(data.get("changed_at"))
    except (TypeError, ValueError):
        changed_at = None
    agency = _optional_text(data, "agency")
    if changed_at is None or agency is None:
        raise StatusChangeError("Thiếu thời điểm thay đổi (changed_at) hoặc cơ quan (agency).")
    documents = data.get("missing_documents") or []
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise StatusChangeError("Danh sách giấy tờ cần bổ sung (missing_documents) phải là danh sách văn bản.")
    old = data.get("old_status")
    return event_id.strip(), StatusChange(
        code=code, new_status=status, at=changed_at, agency=agency,
        old_status=old if old in STATUSES else None,
        procedure_name=_optional_text(data, "procedure_name") or "",
        missing_documents=tuple(documents), result_pickup=_optional_text(data, "result_pickup"),
        rejection_reason=_optional_text(data, "rejection_reason"))


@dataclass
class StatusWebhook:
    """Receives the one-stop system's status events into the services database."""

    db: Database
    secret: str
    hotline: str
    window_s: float = 300.0
    clock: Callable[[], datetime] = now_vn

    def handle(self, raw_body: bytes, timestamp: str | None, signature: str | None) -> tuple[int, dict]:
        """(HTTP status, JSON body) for one delivery of the webhook."""
        if not self.secret:
            return 503, {"error": "not_configured", "message": "Chưa cấu hình khóa bí mật của webhook."}
        if len(raw_body) > MAX_BODY_BYTES:
            return 413, {"error": "too_large", "message": "Nội dung sự kiện quá lớn."}
        if not signature_valid(self.secret, timestamp, signature, raw_body, window_s=self.window_s,
                               now_epoch=self.clock().timestamp()):
            log.warning("status webhook refused: bad signature or timestamp (%d bytes)", len(raw_body))
            return 401, {"error": "unauthorized", "message": "Chữ ký hoặc thời điểm gửi không hợp lệ."}
        try:
            event_id, change = change_from_payload(json.loads(raw_body))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            message = exc.message if isinstance(exc, StatusChangeError) else "Nội dung không phải JSON hợp lệ."
            return 400, {"error": "bad_request", "message": message}
        with self.db.transaction() as conn:
            recorded = record_status_change(conn, event_id, change, "webhook", hotline=self.hotline,
                                            now=self.clock())
        if not recorded.new:
            log.info("status webhook: event for %s already received, ignored", mask_code(change.code))
            return 200, {"status": "duplicate"}
        return 200, {"status": "accepted", "queued": recorded.queued}


def poll_statuses(db: Database, codes: Iterable[str], fetch: Callable[[list[str]], list[dict]], *, hotline: str,
                  clock: Callable[[], datetime] = now_vn) -> int:
    """The polling fallback: ask the one-stop system (``fetch``) for the current status of ``codes`` and record an
    event for each code whose status differs from the last one seen; how many events were recorded.

    The first answer about a code is only remembered (no earlier status to compare with).
    """
    wanted = sorted({c for c in (extract_application_code(code) for code in codes) if c})
    if not wanted:
        return 0
    recorded = 0
    now = clock()
    for item in fetch(wanted):
        code = item.get("code")
        if code not in wanted or item.get("status") not in STATUSES:
            continue
        with db.transaction() as conn:
            seen = conn.one("SELECT status FROM status_poll_state WHERE code = ?", (code,))
            conn.execute("INSERT INTO status_poll_state (code, status, checked_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (code) DO UPDATE SET status = excluded.status, checked_at = excluded.checked_at",
                         (code, item["status"], now))
            if seen is None or seen["status"] == item["status"]:
                continue
            key = f"{code}|{item.get('changed_at')}|{item['status']}".encode("utf-8")
            payload = {**item, "old_status": seen["status"],  # the id names the change without the code
                       "event_id": "poll-" + hashlib.sha256(key).hexdigest()[:32]}
            try:
                event_id, change = change_from_payload(payload)
            except StatusChangeError as exc:
                log.warning("status poll: %s skipped (%s)", mask_code(code), exc.message)
                continue
            if record_status_change(conn, event_id, change, "poll", hotline=hotline, now=now).new:
                recorded += 1
    return recorded
