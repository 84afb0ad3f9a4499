"""The Vietnamese answer shown to a verified citizen about their application."""

from __future__ import annotations

from datetime import date, datetime

from core.status.models import (
    NEEDS_DOCUMENTS,
    OVERDUE,
    PROCESSING,
    RECEIVED,
    REJECTED,
    RESULT_READY,
    RETURNED,
    ApplicationStatus,
)

HISTORY_LINES = 4


def _d(value: datetime | date) -> str:
    return value.strftime("%d/%m/%Y")


def _dt(value: datetime) -> str:
    return value.strftime("%H:%M ngày %d/%m/%Y")


def default_hotline() -> str:
    """The support hotline of the settings."""
    from settings import get_settings

    return get_settings().support_hotline


def _timing(app: ApplicationStatus, today: date) -> str:
    due = app.due_at.date()
    if app.status in (RESULT_READY, RETURNED):
        done = app.result_date()
        if done > due:
            return f"Kết quả có sau hạn {(done - due).days} ngày (hạn là {_d(due)})."
        return "Hồ sơ được giải quyết đúng hạn."
    if app.status == REJECTED:
        return ""
    if today > due:
        return f"Hồ sơ đã quá hạn {(today - due).days} ngày so với hạn trả kết quả."
    if app.status == OVERDUE:
        return "Hồ sơ được ghi nhận là quá hạn giải quyết."
    if today == due:
        return "Hôm nay là hạn trả kết quả."
    return f"Hồ sơ còn trong hạn (còn {(due - today).days} ngày đến hạn trả kết quả)."


def next_step(status: str, agency: str, hotline: str, *, missing_documents: list[str] | tuple[str, ...] = (),
              result_pickup: str | None = None, rejection_reason: str | None = None) -> str:
    """What the citizen should do now that the application is in ``status`` (Vietnamese; also the notifications'
    "what to do next")."""
    if status in (RECEIVED, PROCESSING):
        return ("Bạn chưa cần làm gì thêm. Bạn có thể tra cứu lại bất cứ lúc nào bằng mã hồ sơ và "
                "4 số cuối điện thoại hoặc giấy tờ tùy thân.")
    if status == NEEDS_DOCUMENTS:
        docs = list(missing_documents) or ["giấy tờ theo thông báo của cơ quan giải quyết"]
        lines = "\n".join(f"- {doc}" for doc in docs)
        return (f"Bạn cần bổ sung:\n{lines}\nNơi nộp bổ sung: {agency} (hoặc trên Cổng Dịch vụ công nếu "
                "hồ sơ được nộp trực tuyến), ghi rõ mã hồ sơ. Hồ sơ sẽ được tiếp tục xử lý sau khi cơ quan nhận "
                "đủ giấy tờ bổ sung.")
    if status == RESULT_READY:
        place = result_pickup or agency
        return (f"Kết quả đã sẵn sàng. Nơi nhận kết quả: {place}. Khi đi nhận, bạn mang theo giấy tiếp nhận "
                "hồ sơ và hẹn trả kết quả cùng giấy tờ tùy thân.")
    if status == RETURNED:
        return (f"Kết quả đã được trả. Nếu bạn chưa nhận được kết quả, vui lòng liên hệ {agency} "
                f"hoặc đường dây nóng {hotline}.")
    if status == OVERDUE:
        return (f"Bạn có thể liên hệ {agency} hoặc gọi đường dây nóng {hotline} để được giải thích và hẹn "
                "lại ngày trả kết quả.")
    if status == REJECTED:
        reason = rejection_reason or "cơ quan giải quyết chưa ghi lý do"
        return (f"Lý do từ chối: {reason}. Nếu cần giải thích thêm hoặc muốn kiến nghị, bạn vui lòng gọi "
                f"đường dây nóng {hotline}.")
    return f"Nếu cần hỗ trợ, bạn vui lòng gọi đường dây nóng {hotline}."


def format_status(app: ApplicationStatus, today: date, *, hotline: str | None = None) -> str:
    """Where the application is, since when, the due date, late or not, and what to do next (Vietnamese)."""
    hotline = hotline or default_hotline()
    if app.status == REJECTED:
        where = f"Hồ sơ đã bị từ chối giải quyết từ {_dt(app.status_since)} ({app.agency})."
    else:
        where = f"Trạng thái: {app.status} từ {_dt(app.status_since)}, tại {app.agency}."
    parts = [
        f"Hồ sơ {app.code} — {app.procedure_name} (người nộp: {app.applicant_name}).",
        where,
        f"Ngày tiếp nhận: {_d(app.received_at)}. Hạn trả kết quả: {_d(app.due_at)}.",
    ]
    timing = _timing(app, today)
    if timing:
        parts.append(timing)
    parts.append(next_step(app.status, app.agency, hotline, missing_documents=app.missing_documents,
                           result_pickup=app.result_pickup, rejection_reason=app.rejection_reason))
    if app.history:
        recent = app.history[-HISTORY_LINES:]
        lines = "\n".join(f"- {_d(e.at)}: {e.status} ({e.agency})" for e in recent)
        parts.append(f"Quá trình xử lý gần đây:\n{lines}")
    return "\n".join(parts)
