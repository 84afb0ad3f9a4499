"""Data model of an application (hồ sơ) in the one-stop system and its status history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

RECEIVED = "Đã tiếp nhận"
PROCESSING = "Đang xử lý"
NEEDS_DOCUMENTS = "Chờ bổ sung hồ sơ"
RESULT_READY = "Đã có kết quả"
RETURNED = "Đã trả kết quả"
OVERDUE = "Quá hạn"
REJECTED = "Từ chối"

STATUSES: tuple[str, ...] = (RECEIVED, PROCESSING, NEEDS_DOCUMENTS, RESULT_READY, RETURNED, OVERDUE, REJECTED)
# Statuses after which the application is finished (no due date pending).
FINAL_STATUSES: frozenset[str] = frozenset({RESULT_READY, RETURNED, REJECTED})


@dataclass(frozen=True)
class StatusEvent:
    """One change of status: what, when, at which agency, with the officer's note."""

    status: str
    at: datetime
    agency: str
    note: str | None = None

    def to_dict(self) -> dict:
        """A JSON-friendly dict (ISO timestamp): one entry of :meth:`ApplicationStatus.to_dict`'s history."""
        return {"status": self.status, "at": self.at.isoformat(), "agency": self.agency, "note": self.note}


@dataclass(frozen=True)
class ApplicationStatus:
    """What a verified citizen may see about their application (never the phone or ID number)."""

    code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    received_at: datetime
    due_at: datetime
    status: str
    status_since: datetime
    agency: str
    history: list[StatusEvent] = field(default_factory=list)
    missing_documents: list[str] = field(default_factory=list)
    result_pickup: str | None = None
    rejection_reason: str | None = None

    def is_late(self, today: date) -> bool:
        """True when the application is (or was) past its due date.

        Open applications are late when ``today`` is after the due date (or they are flagged Quá hạn);
        finished ones when their result (or rejection) came after the due date.
        """
        due = self.due_at.date()
        if self.status == OVERDUE:
            return True
        if self.status in (RESULT_READY, RETURNED):
            return self.result_date() > due
        if self.status == REJECTED:
            return self.status_since.date() > due
        return today > due

    def result_date(self) -> date:
        """The day the result was ready (from the history), else the day of the current status."""
        for event in self.history:
            if event.status == RESULT_READY:
                return event.at.date()
        return self.status_since.date()

    def to_dict(self) -> dict:
        """A JSON-friendly dict (ISO timestamps), e.g. for a Rasa slot or the HTTP contract."""
        return {
            "code": self.code,
            "procedure_code": self.procedure_code,
            "procedure_name": self.procedure_name,
            "applicant_name": self.applicant_name,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "status": self.status,
            "status_since": self.status_since.isoformat(),
            "agency": self.agency,
            "history": [e.to_dict() for e in self.history],
            "missing_documents": list(self.missing_documents),
            "result_pickup": self.result_pickup,
            "rejection_reason": self.rejection_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ApplicationStatus":
        """The inverse of :meth:`to_dict` (raises KeyError/ValueError on malformed input)."""
        from core.db import as_datetime

        return cls(
            code=str(data["code"]),
            procedure_code=str(data["procedure_code"]),
            procedure_name=str(data["procedure_name"]),
            applicant_name=str(data["applicant_name"]),
            received_at=as_datetime(data["received_at"]),
            due_at=as_datetime(data["due_at"]),
            status=str(data["status"]),
            status_since=as_datetime(data["status_since"]),
            agency=str(data["agency"]),
            history=[
                StatusEvent(status=str(e["status"]), at=as_datetime(e["at"]), agency=str(e["agency"]),
                            note=e.get("note"))
                for e in data.get("history") or []
            ],
            missing_documents=[str(d) for d in data.get("missing_documents") or []],
            result_pickup=data.get("result_pickup"),
            rejection_reason=data.get("rejection_reason"),
        )
