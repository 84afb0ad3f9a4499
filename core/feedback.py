"""Citizens' feedback and complaints (phản ánh, kiến nghị): storage with PA-YYMMDD-NNNN tracking codes."""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from core.appcode import extract_feedback_code
from core.db import Database, as_datetime, now_vn, shared_database
from core.errors import RefusedError

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = ("hạ tầng", "môi trường", "trật tự đô thị", "thủ tục hành chính", "thái độ cán bộ", "khác")

FEEDBACK_RECEIVED = "Đã tiếp nhận"
FEEDBACK_PROCESSING = "Đang xử lý"
FEEDBACK_DONE = "Đã xử lý"
FEEDBACK_OUT_OF_SCOPE = "Không thuộc thẩm quyền"
FEEDBACK_STATUSES: tuple[str, ...] = (FEEDBACK_RECEIVED, FEEDBACK_PROCESSING, FEEDBACK_DONE, FEEDBACK_OUT_OF_SCOPE)

MAX_CONTENT_CHARS = 5000

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# Mobile: 0 + 3/5/7/8/9 + 8 digits; landline: 02 + 9 digits. "+84"/"84" instead of the leading 0.
_PHONE_RE = re.compile(r"^0(?:[35789]\d{8}|2\d{9})$")


@dataclass(frozen=True)
class FeedbackEvent:
    """One status change of a report, with the officer's note."""

    status: str
    at: datetime
    note: str | None = None
    staff: str | None = None


@dataclass(frozen=True)
class FeedbackReport:
    """A stored feedback report; ``content`` and ``location`` exactly as the citizen wrote them."""

    code: str
    topic: str
    content: str
    location: str
    contact: str | None
    consent: bool
    sender_id: str
    channel: str
    status: str
    created_at: datetime
    updated_at: datetime
    history: list[FeedbackEvent] = field(default_factory=list)


class FeedbackError(RefusedError):
    """Invalid input for a feedback operation."""


def validate_contact(text: str | None) -> str | None:
    """A normalised Vietnamese phone number ("0912345678") or e-mail (lower-cased), or None if invalid."""
    if not text:
        return None
    value = text.strip().strip(".,;")
    if "@" in value:
        value = value.lower()
        return value if _EMAIL_RE.match(value) and ".." not in value else None
    if re.search(r"[^\d\s.\-+()]", value):
        return None
    digits = re.sub(r"\D", "", value)
    if value.lstrip().startswith("+") or (digits.startswith("84") and len(digits) in (11, 12)):
        if not digits.startswith("84"):
            return None
        digits = "0" + digits[2:]
    return digits if _PHONE_RE.match(digits) else None


def normalize_topic(text: str | None) -> str | None:
    """The taxonomy topic named in ``text`` (case/diacritics as typed must match a topic), or None."""
    value = " ".join((text or "").lower().split())
    return value if value in TOPICS else None


class FeedbackStore:
    """Feedback reports in the services database (SQLite by default, PostgreSQL with DATABASE_URL)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    def create(self, topic: str, content: str, location: str, contact: str | None, consent: bool,
               sender_id: str, channel: str) -> FeedbackReport:
        """Store a new report with the next PA-YYMMDD-NNNN code of the day; committed before it returns."""
        topic_norm = normalize_topic(topic)
        if topic_norm is None:
            raise FeedbackError("Chủ đề phản ánh không hợp lệ. Chủ đề gồm: " + ", ".join(TOPICS) + ".")
        if not content or not content.strip():
            raise FeedbackError("Nội dung phản ánh đang trống, bạn vui lòng mô tả sự việc.")
        if len(content) > MAX_CONTENT_CHARS:
            raise FeedbackError(f"Nội dung phản ánh dài quá {MAX_CONTENT_CHARS} ký tự, bạn vui lòng rút gọn.")
        contact_norm = None
        if contact:
            contact_norm = validate_contact(contact)
            if contact_norm is None:
                raise FeedbackError("Số điện thoại hoặc email liên hệ không hợp lệ.")
        now = self.clock()
        day = now.astimezone(now.tzinfo).strftime("%y%m%d")
        with self.db.transaction() as conn:
            seq = conn.next_value(f"feedback:{day}")
            if seq > 9999:
                raise FeedbackError("Hệ thống đã nhận quá nhiều phản ánh trong ngày, bạn vui lòng thử lại sau.")
            code = f"PA-{day}-{seq:04d}"
            conn.execute(
                "INSERT INTO feedback_reports (code, topic, content, location, contact, consent, sender_id, channel, "
                "status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code, topic_norm, content, location or "", contact_norm, bool(consent and contact_norm), sender_id,
                 channel, FEEDBACK_RECEIVED, now, now),
            )
            conn.execute(
                "INSERT INTO feedback_events (code, status, note, staff, at) VALUES (?, ?, ?, ?, ?)",
                (code, FEEDBACK_RECEIVED, "Tiếp nhận qua trợ lý ảo", None, now),
            )
        log.info("feedback %s stored (topic %s, channel %s)", code, topic_norm, channel)
        report = self.get(code)
        assert report is not None
        return report

    def get(self, code: str) -> FeedbackReport | None:
        """The report with this code (any common spelling), with its history; None if unknown."""
        canonical = extract_feedback_code(code)
        if canonical is None:
            return None
        with self.db.read() as conn:
            row = conn.one("SELECT * FROM feedback_reports WHERE code = ?", (canonical,))
            if row is None:
                return None
            events = conn.all("SELECT status, note, staff, at FROM feedback_events WHERE code = ? ORDER BY id",
                              (canonical,))
        return _to_report(row, events)

    def set_status(self, code: str, status: str, note: str | None, staff: str) -> FeedbackReport:
        """Change the status (one of FEEDBACK_STATUSES) and append to the history; committed on return."""
        if status not in FEEDBACK_STATUSES:
            raise FeedbackError("Trạng thái không hợp lệ. Trạng thái gồm: " + ", ".join(FEEDBACK_STATUSES) + ".")
        canonical = extract_feedback_code(code)
        if canonical is None:
            raise FeedbackError("Mã phản ánh không hợp lệ (dạng PA-YYMMDD-NNNN).")
        now = self.clock()
        with self.db.transaction() as conn:
            updated = conn.execute("UPDATE feedback_reports SET status = ?, updated_at = ? WHERE code = ?",
                                   (status, now, canonical)).rowcount
            if not updated:
                raise FeedbackError(f"Không tìm thấy phản ánh {canonical}.")
            conn.execute("INSERT INTO feedback_events (code, status, note, staff, at) VALUES (?, ?, ?, ?, ?)",
                         (canonical, status, note, staff, now))
        report = self.get(canonical)
        assert report is not None
        return report

    def list(self, status: str | None = None, limit: int = 100) -> list[FeedbackReport]:
        """Most recent reports first (optionally only one status), without their history."""
        with self.db.read() as conn:
            if status:
                rows = conn.all("SELECT * FROM feedback_reports WHERE status = ? ORDER BY created_at DESC, code DESC "
                                "LIMIT ?", (status, limit))
            else:
                rows = conn.all("SELECT * FROM feedback_reports ORDER BY created_at DESC, code DESC LIMIT ?",
                                (limit,))
        return [_to_report(row, []) for row in rows]


def _to_report(row: dict, events: list[dict]) -> FeedbackReport:
    return FeedbackReport(
        code=row["code"], topic=row["topic"], content=row["content"], location=row["location"],
        contact=row["contact"], consent=bool(row["consent"]), sender_id=row["sender_id"], channel=row["channel"],
        status=row["status"], created_at=as_datetime(row["created_at"]), updated_at=as_datetime(row["updated_at"]),
        history=[FeedbackEvent(e["status"], as_datetime(e["at"]), e["note"], e["staff"]) for e in events],
    )


def format_feedback(report: FeedbackReport) -> str:
    """Vietnamese summary of a report's status for the citizen (content not repeated)."""
    last = report.history[-1] if report.history else None
    lines = [
        f"Phản ánh {report.code} (chủ đề: {report.topic}), gửi lúc {report.created_at:%H:%M ngày %d/%m/%Y}.",
        f"Trạng thái: {report.status} (cập nhật {report.updated_at:%H:%M ngày %d/%m/%Y}).",
    ]
    if last and last.note and last.status == report.status and last.staff:
        lines.append(f"Ghi chú của cán bộ: {last.note}")
    return "\n".join(lines)


def contact_last4(report: FeedbackReport) -> str | None:
    """The last four digits of the report's contact phone number, or None (no contact, or an e-mail)."""
    contact = report.contact or ""
    if "@" in contact:
        return None
    digits = "".join(ch for ch in contact if ch.isdigit())
    return digits[-4:] if len(digits) >= 9 else None


def may_see_report(report: FeedbackReport | None, sender_id: str | None, last4: str | None) -> bool:
    """Whether the details of ``report`` (topic, status, times, the officer's note) may be shown.

    Only to the conversation that filed it, or to whoever gives the last four digits of the contact phone number
    left when filing (compared in constant time). A report code alone is not a secret: codes are sequential.
    """
    if report is None:
        return False
    if sender_id and hmac.compare_digest(report.sender_id.encode("utf-8"), sender_id.encode("utf-8")):
        return True
    expected = contact_last4(report)
    if expected is None or not last4:
        return False
    return hmac.compare_digest(expected.encode("ascii"), last4.encode("ascii", "replace"))


def feedback_store_from_settings(settings: Any) -> FeedbackStore:
    """The feedback store on the services database (DATABASE_URL or SERVICES_DB)."""
    return FeedbackStore(shared_database(settings))
