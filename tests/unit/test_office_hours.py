"""Office hours 7:30–17:00 Mon–Fri Vietnam time, what the citizen is told about the wait, and working days."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from core.db import VN_TZ
from core.office_hours import (
    add_working_days,
    expected_wait_message,
    is_office_hours,
    is_working_day,
    next_opening,
    offer_wait_message,
)


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2025 (27/11 is a Thursday) Vietnam time."""
    return datetime(2025, 11, day, hour, minute, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (vn(27, 7, 29), False), (vn(27, 7, 30), True), (vn(27, 16, 59), True), (vn(27, 17, 0), False),
        (vn(29, 10), False), (vn(30, 10), False), (vn(28, 12), True),
        (datetime(2025, 11, 27, 2, 0, tzinfo=timezone.utc), True),  # 9:00 in Vietnam
        (datetime(2025, 11, 27, 11, 0, tzinfo=timezone.utc), False),  # 18:00 in Vietnam
    ],
)
def test_is_office_hours(now, open_):
    assert is_office_hours(now) is open_


def test_next_opening():
    assert next_opening(vn(27, 6, 0)) == vn(27, 7, 30)
    assert next_opening(vn(27, 18, 0)) == vn(28, 7, 30)
    assert next_opening(vn(28, 17, 30)) == datetime(2025, 12, 1, 7, 30, tzinfo=VN_TZ)  # Friday evening → Monday
    assert next_opening(vn(29, 10, 0)) == datetime(2025, 12, 1, 7, 30, tzinfo=VN_TZ)  # Saturday
    assert next_opening(vn(30, 23, 0)) == datetime(2025, 12, 1, 7, 30, tzinfo=VN_TZ)  # Sunday night


def test_in_hours_message():
    assert expected_wait_message(vn(27, 10)) == (
        "Yêu cầu của bạn đã được chuyển tới cán bộ trực. Cán bộ sẽ trả lời ngay khi có thể qua kênh "
        "trò chuyện này; bạn vui lòng chờ trong giây lát.")


def test_friday_evening_says_monday_morning():
    assert expected_wait_message(vn(28, 19, 45)) == (
        "Hiện đã ngoài giờ làm việc (7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu). Yêu cầu của bạn đã được "
        "lưu lại; cán bộ sẽ trả lời từ 7 giờ 30 sáng thứ Hai (01/12) qua kênh trò chuyện này.")


def test_weekend_and_early_morning_and_evening():
    assert "từ 7 giờ 30 sáng thứ Hai (01/12)" in expected_wait_message(vn(29, 9))
    assert "từ 7 giờ 30 sáng hôm nay" in expected_wait_message(vn(27, 6, 15))
    assert "từ 7 giờ 30 sáng ngày mai (thứ Sáu, 28/11)" in expected_wait_message(vn(27, 20))
    assert "từ 7 giờ 30 sáng ngày mai (thứ Hai, 01/12)" in expected_wait_message(vn(30, 21))


def test_offer_does_not_claim_the_request_was_transferred():
    assert offer_wait_message(vn(27, 10)) == "Trong giờ làm việc, cán bộ trực thường trả lời sau ít phút."
    assert offer_wait_message(vn(28, 19, 45)) == (
        "Hiện đã ngoài giờ làm việc (7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu); nếu chuyển, cán bộ sẽ trả lời "
        "từ 7 giờ 30 sáng thứ Hai (01/12).")
    assert "đã được chuyển" not in offer_wait_message(vn(27, 10))


def test_working_days():
    assert add_working_days(date(2025, 11, 27), 1) == date(2025, 11, 28)
    assert add_working_days(date(2025, 11, 28), 1) == date(2025, 12, 1)  # Friday → Monday
    assert add_working_days(date(2025, 8, 29), 1) == date(2025, 9, 1)
    assert add_working_days(date(2025, 9, 1), 1) == date(2025, 9, 3)  # 2/9 is a holiday
    assert add_working_days(date(2025, 11, 29), 0) == date(2025, 12, 1)  # a Saturday start rolls to Monday
    assert not is_working_day(date(2025, 4, 30)) and is_working_day(date(2025, 4, 29))
