"""Status-lookup records for tests: one application of Đăng ký khai sinh in November 2025."""

from __future__ import annotations

from datetime import datetime

from core.db import VN_TZ
from core.status.models import ApplicationStatus, StatusEvent


def at(day: int, hour: int = 9, month: int = 11) -> datetime:
    """A moment of 2025 (November by default), Vietnam time."""
    return datetime(2025, month, day, hour, 0, tzinfo=VN_TZ)


def make_app(status: str, history: list[StatusEvent] | None = None, since: datetime | None = None) -> ApplicationStatus:
    """Đăng ký khai sinh received 20/11/2025, due 25/11/2025, at the commune of Võ Cường."""
    return ApplicationStatus(
        code="H07.02-251120-0003", procedure_code="1.001193", procedure_name="Đăng ký khai sinh",
        applicant_name="Nguyễn Thị Lan", received_at=at(20), due_at=at(25, 17), status=status,
        status_since=since or at(21), agency="UBND phường Võ Cường",
        history=history or [StatusEvent("Đã tiếp nhận", at(20), "Bộ phận Một cửa UBND phường Võ Cường")],
    )
