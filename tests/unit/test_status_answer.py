"""The Vietnamese status answer: where, since when, due date, late or not, and the next step."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from core.status.answer import format_status
from core.status.models import StatusEvent
from tests.fakes.status import at, make_app

HOTLINE = "18001096"


def test_processing_on_time():
    text = format_status(make_app("Đang xử lý"), date(2025, 11, 22), hotline=HOTLINE)
    assert text.splitlines()[:4] == [
        "Hồ sơ H07.02-251120-0003 — Đăng ký khai sinh (người nộp: Nguyễn Thị Lan).",
        "Trạng thái: Đang xử lý từ 09:00 ngày 21/11/2025, tại UBND phường Võ Cường.",
        "Ngày tiếp nhận: 20/11/2025. Hạn trả kết quả: 25/11/2025.",
        "Hồ sơ còn trong hạn (còn 3 ngày đến hạn trả kết quả).",
    ]
    assert "chưa cần làm gì thêm" in text
    assert "nhắn tin" not in text and "sẽ thông báo" not in text  # promises nothing it cannot do


def test_processing_late():
    text = format_status(make_app("Đang xử lý"), date(2025, 11, 28), hotline=HOTLINE)
    assert "Hồ sơ đã quá hạn 3 ngày so với hạn trả kết quả." in text


def test_due_today():
    assert "Hôm nay là hạn trả kết quả." in format_status(make_app("Đang xử lý"), date(2025, 11, 25), hotline=HOTLINE)


def test_needs_documents_lists_what_and_where():
    app = replace(make_app("Chờ bổ sung hồ sơ"), agency="Bộ phận Một cửa UBND phường Võ Cường",
                  missing_documents=["Bản chính Giấy chứng sinh", "Giấy tờ tùy thân của người đi đăng ký khai sinh"])
    text = format_status(app, date(2025, 11, 22), hotline=HOTLINE)
    assert ("Bạn cần bổ sung:\n- Bản chính Giấy chứng sinh\n- Giấy tờ tùy thân của người đi đăng ký khai sinh\n"
            "Nơi nộp bổ sung: Bộ phận Một cửa UBND phường Võ Cường") in text


def test_result_ready_says_where_to_collect():
    app = replace(make_app("Đã có kết quả"), result_pickup="Quầy trả kết quả, Bộ phận Một cửa UBND phường Võ Cường")
    text = format_status(app, date(2025, 11, 22), hotline=HOTLINE)
    assert "Nơi nhận kết quả: Quầy trả kết quả, Bộ phận Một cửa UBND phường Võ Cường." in text
    assert "Hồ sơ được giải quyết đúng hạn." in text


def test_rejected_gives_reason_and_hotline():
    app = replace(make_app("Từ chối"), rejection_reason="Người nộp không thuộc đối tượng được giải quyết theo quy định")
    text = format_status(app, date(2025, 11, 22), hotline=HOTLINE)
    assert text.splitlines()[1] == "Hồ sơ đã bị từ chối giải quyết từ 09:00 ngày 21/11/2025 (UBND phường Võ Cường)."
    assert "Lý do từ chối: Người nộp không thuộc đối tượng được giải quyết theo quy định." in text
    assert "đường dây nóng 18001096" in text


def test_overdue_points_to_agency_and_hotline():
    text = format_status(make_app("Quá hạn"), date(2025, 11, 27), hotline=HOTLINE)
    assert "Hồ sơ đã quá hạn 2 ngày so với hạn trả kết quả." in text
    assert "liên hệ UBND phường Võ Cường hoặc gọi đường dây nóng 18001096" in text


def test_history_shows_recent_events():
    history = [StatusEvent(s, at(20 + i), "UBND phường Võ Cường") for i, s in
               enumerate(["Đã tiếp nhận", "Đang xử lý", "Chờ bổ sung hồ sơ", "Đang xử lý", "Đã có kết quả"])]
    text = format_status(make_app("Đã có kết quả", history=history), date(2025, 11, 25), hotline=HOTLINE)
    assert text.endswith("Quá trình xử lý gần đây:\n- 21/11/2025: Đang xử lý (UBND phường Võ Cường)\n"
                         "- 22/11/2025: Chờ bổ sung hồ sơ (UBND phường Võ Cường)\n"
                         "- 23/11/2025: Đang xử lý (UBND phường Võ Cường)\n"
                         "- 24/11/2025: Đã có kết quả (UBND phường Võ Cường)")
