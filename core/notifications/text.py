"""The Vietnamese text of a status-change notification: what changed, the new status, what to do next, the code
masked, never the applicant's name or ID number, and how to stop the notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.appcode import mask_code
from core.db import VN_TZ
from core.status.answer import next_step

UNSUBSCRIBE_HINT = "Nhắn “hủy thông báo” để ngừng nhận."


@dataclass(frozen=True)
class StatusChange:
    """One change of an application's status, with what the next-step advice needs (no personal data)."""

    code: str  # canonical application code
    new_status: str
    at: datetime
    agency: str
    old_status: str | None = None
    procedure_name: str = ""
    missing_documents: tuple[str, ...] = field(default_factory=tuple)
    result_pickup: str | None = None
    rejection_reason: str | None = None


def notification_text(change: StatusChange, hotline: str) -> str:
    """The message a subscriber receives about ``change``."""
    what = f"Hồ sơ {mask_code(change.code)}"
    if change.procedure_name:
        what += f" ({change.procedure_name})"
    when = change.at.astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y")
    if change.old_status and change.old_status != change.new_status:
        moved = f"{what} đã chuyển từ “{change.old_status}” sang “{change.new_status}” lúc {when}."
    else:
        moved = f"{what} có trạng thái mới: “{change.new_status}” (lúc {when})."
    advice = next_step(change.new_status, change.agency, hotline, missing_documents=change.missing_documents,
                       result_pickup=change.result_pickup, rejection_reason=change.rejection_reason)
    return "\n".join((moved, advice, UNSUBSCRIBE_HINT))
