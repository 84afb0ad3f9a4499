"""What the help-desk console's tests start it with: a small knowledge index (on fake vectors, real procedure
files), one application for the status lookups, and the environment of a ``python -m console`` process."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from core.db import VN_TZ
from core.status.models import ApplicationStatus, StatusEvent
from knowledge.encoder import HashingEncoder
from knowledge.index import IndexEntry, build_index
from tests.fakes.processes import ROOT

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


def console_environment(tmp: Path, rasa_url: str, rasa_token: str, tracker_db: Path) -> dict:
    """The environment of a console process on ``tmp``'s services database (SQLite status backend), an index of
    ``ENTRIES`` built now in ``tmp/kb-index`` on 64-dimension hashing vectors, the fake Rasa at ``rasa_url`` and
    the tracker store ``tracker_db``."""
    build_index(ENTRIES, HashingEncoder(64), tmp / "kb-index", src_hash="test")
    return {**os.environ, "PYTHONPATH": str(ROOT), "SERVICES_DB": str(tmp / "services.db"), "DATABASE_URL": "",
            "STATUS_BACKEND": "sqlite", "KB_INDEX_DIR": str(tmp / "kb-index"), "KB_ENCODER": "hashing:64",
            "RASA_URL": rasa_url, "RASA_API_TOKEN": rasa_token, "TRACKER_DB": str(tracker_db)}
