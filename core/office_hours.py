"""Office hours of the help desk (7:30–17:00 Mon–Fri, Vietnam time), the expected-wait message, and the working-day
calendar of public offices (processing deadlines count working days)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from core.db import VN_TZ

OPEN = time(7, 30)
CLOSE = time(17, 0)
WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
# Fixed-date public holidays (the lunar Tết holidays vary and are not modelled). The help desk's opening times
# above count weekdays only; processing deadlines (add_working_days) skip these holidays too.
HOLIDAYS = ((1, 1), (4, 30), (5, 1), (9, 2))


def is_working_day(day: date) -> bool:
    """Mon–Fri and not a fixed-date public holiday."""
    return day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS


def add_working_days(start: date, days: int) -> date:
    """The working day ``days`` working days after ``start``."""
    day = start
    remaining = max(days, 0)
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _local(now: datetime) -> datetime:
    return now.replace(tzinfo=VN_TZ) if now.tzinfo is None else now.astimezone(VN_TZ)


def is_office_hours(now: datetime) -> bool:
    """True on Mon–Fri between 7:30 (inclusive) and 17:00 (exclusive), Vietnam time (naive = Vietnam time)."""
    local = _local(now)
    return local.weekday() < 5 and OPEN <= local.time() < CLOSE


def next_opening(now: datetime) -> datetime:
    """The next moment the help desk opens after ``now`` (``now`` itself is not returned when open)."""
    local = _local(now)
    day = local.date()
    if local.weekday() < 5 and local.time() < OPEN:
        return datetime.combine(day, OPEN, tzinfo=VN_TZ)
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, OPEN, tzinfo=VN_TZ)


def _when(opening: datetime, now: datetime) -> str:
    local = _local(now)
    clock = "7 giờ 30 sáng"
    days = (opening.date() - local.date()).days
    if days == 0:
        return f"{clock} hôm nay"
    if days == 1:
        return f"{clock} ngày mai ({WEEKDAYS[opening.weekday()]}, {opening:%d/%m})"
    return f"{clock} {WEEKDAYS[opening.weekday()]} ({opening:%d/%m})"


def expected_wait_message(now: datetime) -> str:
    """What to tell a citizen whose conversation was handed to an officer at ``now``."""
    if is_office_hours(now):
        return ("Yêu cầu của bạn đã được chuyển tới cán bộ trực. Cán bộ sẽ trả lời ngay khi có thể qua kênh "
                "trò chuyện này; bạn vui lòng chờ trong giây lát.")
    opening = next_opening(now)
    return ("Hiện đã ngoài giờ làm việc (7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu). Yêu cầu của bạn đã "
            f"được lưu lại; cán bộ sẽ trả lời từ {_when(opening, now)} qua kênh trò chuyện này.")


def offer_wait_message(now: datetime) -> str:
    """The expected wait told BEFORE the citizen accepts a handoff (nothing has been transferred yet)."""
    if is_office_hours(now):
        return "Trong giờ làm việc, cán bộ trực thường trả lời sau ít phút."
    return ("Hiện đã ngoài giờ làm việc (7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu); nếu chuyển, cán bộ sẽ trả "
            f"lời từ {_when(next_opening(now), now)}.")


# Quiet hours of proactive messages (status-change notifications): none from 21:00 to 7:00 Vietnam time.
QUIET_START = time(21, 0)
QUIET_END = time(7, 0)


def quiet_hours_end(now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end (7:00 Vietnam time), or None when ``now`` is not in them."""
    local = _local(now)
    if QUIET_END <= local.time() < QUIET_START:
        return None
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=VN_TZ)
