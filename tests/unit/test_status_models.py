"""ApplicationStatus: lateness rules and the JSON round trip used by the HTTP contract and slots."""

from __future__ import annotations

from datetime import date

from core.status.models import STATUSES, ApplicationStatus, StatusEvent
from tests.fakes.status import at, make_app


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
    on_time = make_app("Đã trả kết quả", since=at(28), history=[
        StatusEvent("Đã tiếp nhận", at(20), "Bộ phận Một cửa"),
        StatusEvent("Đã có kết quả", at(24), "Bộ phận Một cửa"),
        StatusEvent("Đã trả kết quả", at(28), "Bộ phận Một cửa"),
    ])
    assert not on_time.is_late(date(2025, 12, 30))
    late = make_app("Đã có kết quả", since=at(27), history=[StatusEvent("Đã có kết quả", at(27), "Bộ phận Một cửa")])
    assert late.is_late(date(2025, 11, 27))


def test_dict_round_trip():
    app = make_app("Chờ bổ sung hồ sơ")
    data = app.to_dict()
    assert data["received_at"] == "2025-11-20T09:00:00+07:00"
    assert ApplicationStatus.from_dict(data) == app
