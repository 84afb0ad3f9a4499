"""The data the help-desk console's tests seed: a small knowledge index (on fake vectors, real procedure files) and
one application for the status lookups."""

from __future__ import annotations

from datetime import datetime

from core.db import VN_TZ
from core.status.models import ApplicationStatus, StatusEvent
from knowledge.index import IndexEntry

APP_CODE = "H07.99-251120-0012"
ENTRIES = [
    IndexEntry("1.014064", "procedure", "1.014064", "Cấp lại thẻ căn cước", aliases=["cấp lại căn cước"]),
    IndexEntry("2.001194", "procedure", "2.001194", "Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)",
               aliases=["cấp lại căn cước ở tỉnh"]),
    IndexEntry("1.000757", "procedure", "1.000757", "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)"),
    IndexEntry("1.004222", "procedure", "1.004222", "Đăng ký thường trú", aliases=["nhập hộ khẩu"]),
]


def application() -> ApplicationStatus:
    """The application ``APP_CODE`` (phone and ID number are given when it is saved)."""
    received = datetime(2025, 11, 20, 8, 15, tzinfo=VN_TZ)
    return ApplicationStatus(
        code=APP_CODE, procedure_code="1.001193", procedure_name="Đăng ký khai sinh", applicant_name="Nguyễn Văn A",
        received_at=received, due_at=datetime(2025, 11, 28, 17, 0, tzinfo=VN_TZ), status="Đang xử lý",
        status_since=datetime(2025, 11, 21, 10, 0, tzinfo=VN_TZ), agency="UBND xã Tiên Du",
        history=[StatusEvent("Đã tiếp nhận", received, "Bộ phận Một cửa xã Tiên Du")],
    )
