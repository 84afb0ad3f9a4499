"""Status-change events and their outbox rows, written in ONE transaction with the change itself.

* :func:`change_application_status`: the SQLite / PostgreSQL status backends' write path (staff console and API):
  updates the application, appends to its history and queues one outbox row per subscriber, atomically.
* :func:`record_status_change`: an event received from the one-stop system (signed webhook or polling): stored
  once per ``event_id`` (a replay is recognised and ignored) with its outbox rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from core.appcode import extract_application_code, mask_code
from core.db import Connection, Database, now_vn
from core.errors import RefusedError
from core.notifications.text import StatusChange, notification_text
from core.status.models import NEEDS_DOCUMENTS, REJECTED, STATUSES

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 500
MAX_FIELD_CHARS = 300
MAX_DOCUMENTS = 20


class StatusChangeError(RefusedError):
    """A status change refused (404 unknown application)."""


@dataclass(frozen=True)
class RecordedEvent:
    """What recording an event did: whether it was new (not a replay) and how many notifications it queued."""

    event_id: str
    new: bool
    queued: int


def record_status_change(conn: Connection, event_id: str, change: StatusChange, source: str, *, hotline: str,
                         now: datetime) -> RecordedEvent:
    """Store the event ``event_id`` and one outbox row per subscriber of its code, in ``conn``'s transaction.

    An ``event_id`` seen before is a replay: nothing is written (``new`` is False).
    """
    row = conn.one(
        "INSERT INTO status_change_events (event_id, code, old_status, new_status, source, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        (event_id, change.code, change.old_status, change.new_status, source, now),
    )
    if row is None:
        return RecordedEvent(event_id, False, 0)
    subscribers = conn.all("SELECT channel, sender_id FROM notification_subscriptions WHERE code = ? ORDER BY id",
                           (change.code,))
    text = notification_text(change, hotline)
    for sub in subscribers:
        conn.execute(
            "INSERT INTO notification_outbox (event_id, channel, sender_id, code, text, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, sub["channel"], sub["sender_id"], change.code, text, now, now),
        )
    log.info("status change %s -> %s (%s): %d notifications queued", mask_code(change.code), change.new_status,
             source, len(subscribers))
    return RecordedEvent(event_id, True, len(subscribers))


def _text_field(value: object, label: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
        raise StatusChangeError(f"{label} phải là văn bản, tối đa {MAX_FIELD_CHARS} ký tự.")
    return value.strip()


def _documents(value: object) -> list[str]:
    if value is None:
        return []
    if (not isinstance(value, list) or len(value) > MAX_DOCUMENTS
            or not all(isinstance(d, str) and d.strip() and len(d) <= MAX_FIELD_CHARS for d in value)):
        raise StatusChangeError(f"Danh sách giấy tờ cần bổ sung phải gồm tối đa {MAX_DOCUMENTS} mục văn bản.")
    return [d.strip() for d in value]


@dataclass(frozen=True)
class StatusUpdate:
    """A validated status change requested by an officer."""

    status: str
    note: str | None = None
    missing_documents: tuple[str, ...] = ()
    result_pickup: str | None = None
    rejection_reason: str | None = None

    @classmethod
    def from_request(cls, data: dict) -> "StatusUpdate":
        """Validate a JSON body ``{"status", "note"?, "missing_documents"?, "result_pickup"?,
        "rejection_reason"?}``; raises :class:`StatusChangeError` with a Vietnamese message."""
        status = data.get("status")
        if not isinstance(status, str) or status.strip() not in STATUSES:
            raise StatusChangeError("Trạng thái mới không hợp lệ. Các trạng thái: " + ", ".join(STATUSES) + ".")
        note = data.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
            raise StatusChangeError(f"Ghi chú phải là văn bản, tối đa {MAX_NOTE_CHARS} ký tự.")
        update = cls(
            status=status.strip(),
            note=(note or "").strip() or None,
            missing_documents=tuple(_documents(data.get("missing_documents"))),
            result_pickup=_text_field(data.get("result_pickup"), "Nơi nhận kết quả"),
            rejection_reason=_text_field(data.get("rejection_reason"), "Lý do từ chối"),
        )
        if update.status == REJECTED and not update.rejection_reason:
            raise StatusChangeError("Khi từ chối hồ sơ cần ghi lý do từ chối (trường \"rejection_reason\").")
        return update


def change_application_status(db: Database, code: str, update: StatusUpdate, *, hotline: str,
                              clock: Callable[[], datetime] = now_vn,
                              event_id: str | None = None) -> RecordedEvent:
    """Move application ``code`` (any spelling) to ``update.status`` in the services database: the new status,
    its history entry, the event and one outbox row per subscriber in ONE transaction (all or nothing).

    Raises :class:`StatusChangeError`: 400 for a malformed code or an unchanged status, 404 for an unknown code.
    """
    canonical = extract_application_code(code or "")
    if canonical is None:
        raise StatusChangeError("Mã hồ sơ không đúng dạng (ví dụ H07.99-251120-0012).")
    now = clock()
    lock = " FOR UPDATE" if db.dialect == "postgres" else ""  # SQLite: BEGIN IMMEDIATE already serialises
    with db.transaction() as conn:
        app = conn.one("SELECT code, status, agency, procedure_name, missing_documents, result_pickup, "
                       f"rejection_reason FROM applications WHERE code = ?{lock}", (canonical,))
        if app is None:
            raise StatusChangeError("Không có hồ sơ với mã này.", status=404)
        if app["status"] == update.status:
            raise StatusChangeError(f"Hồ sơ đang ở trạng thái “{update.status}”, không có gì thay đổi.")
        documents = list(update.missing_documents) if update.status == NEEDS_DOCUMENTS else []
        pickup = update.result_pickup or app["result_pickup"]
        conn.execute(
            "UPDATE applications SET status = ?, status_since = ?, missing_documents = ?, result_pickup = ?, "
            "rejection_reason = ? WHERE code = ?",
            (update.status, now, json.dumps(documents, ensure_ascii=False), pickup,
             update.rejection_reason, canonical),
        )
        seq = conn.one("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM application_events WHERE code = ?",
                       (canonical,))
        conn.execute("INSERT INTO application_events (code, seq, status, at, agency, note) VALUES (?, ?, ?, ?, ?, ?)",
                     (canonical, int(seq["seq"]), update.status, now, app["agency"], update.note))
        change = StatusChange(code=canonical, new_status=update.status, at=now, agency=app["agency"],
                              old_status=app["status"], procedure_name=app["procedure_name"],
                              missing_documents=tuple(documents), result_pickup=pickup,
                              rejection_reason=update.rejection_reason)
        return record_status_change(conn, event_id or f"local-{uuid.uuid4().hex}", change, "staff",
                                    hotline=hotline, now=now)
