"""ApplicationStatus: lateness rules and the JSON round trip used by the HTTP contract and slots."""

from __future__ import annotations

from datetime import date, datetime

from core.db import VN_TZ
from core.status.models import STATUSES, ApplicationStatus, StatusEvent


def _at(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=VN_TZ)


def make_app(status: str, history: list[StatusEvent] | None = None, since: datetime | None = None) -> ApplicationStatus:
    """Đăng ký khai sinh received 20/11/2025, due 25/11/2025, at the commune of Võ Cường."""
    return ApplicationStatus(
        code="H07.02-251120-0003", procedure_code="1.001193", procedure_name="Đăng ký khai sinh",
        applicant_name="Nguyễn Thị Lan", received_at=_at(20), due_at=_at(25, 17), status=status,
        status_since=since or _at(21), agency="UBND phường Võ Cường",
        history=history or [StatusEvent("Đã tiếp nhận", _at(20), "Bộ phận Một cửa UBND phường Võ Cường")],
    )


def test_seven_statuses():
    assert STATUSES == ("Đã tiếp nhận", "Đang xử lý", "Chờ bổ sung hồ sơ", "Đã có kết quả", "Đã trả kết quả",
                        "Quá hạn", "Từ chối")


def test_open_application_late_only_after_due_day():
    app = make_app("Đang xử lý")
    assert not app.is_late(date(2025, 11, 24))
    assert not app.is_late(date(2025, 11, 25))
    assert app.is_late(date(2025, 11, 26))


def test_overdue_flag_is_late():
    assert make_app("Quá hạn").is_late(date(2025, 11, 21))


def test_finished_application_judged_by_result_day():
    on_time = make_app("Đã trả kết quả", since=_at(28), history=[
        StatusEvent("Đã tiếp nhận", _at(20), "Bộ phận Một cửa"),
        StatusEvent("Đã có kết quả", _at(24), "Bộ phận Một cửa"),
        StatusEvent("Đã trả kết quả", _at(28), "Bộ phận Một cửa"),
    ])
    assert not on_time.is_late(date(2025, 12, 30))
    late = make_app("Đã có kết quả", since=_at(27), history=[StatusEvent("Đã có kết quả", _at(27), "Bộ phận Một cửa")])
    assert late.is_late(date(2025, 11, 27))


def test_dict_round_trip():
    app = make_app("Chờ bổ sung hồ sơ")
    data = app.to_dict()
    assert data["received_at"] == "2025-11-20T09:00:00+07:00"
    assert ApplicationStatus.from_dict(data) == app
