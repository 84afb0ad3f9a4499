"""Feedback reports: PA codes allocated transactionally, verbatim content, statuses with history."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from core.db import VN_TZ
from core.feedback import (
    TOPICS,
    FeedbackError,
    FeedbackStore,
    format_feedback,
    validate_contact,
)

CONTENT = ("Đèn đường trên phố Nguyễn Gia Thiều (đoạn trước số 125) bị hỏng 2 tuần nay, buổi tối rất tối, "
           "đã có người ngã xe.\n  Đề nghị phường sửa sớm!  ")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_topics():
    assert TOPICS == ("hạ tầng", "môi trường", "trật tự đô thị", "thủ tục hành chính", "thái độ cán bộ", "khác")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0222.3821.234", "02223821234"),
        ("Lan.Nguyen@BacNinh.gov.vn", "lan.nguyen@bacninh.gov.vn"),
        ("0123456789", None),  # old 11-prefix style, not a current mobile
        ("091234567", None),
        ("số tôi là 0912345678", None),
        ("lan@gmail", None),
        ("", None),
    ],
)
def test_validate_contact(text, expected):
    assert validate_contact(text) == expected


def test_create_get_verbatim(db):
    store = FeedbackStore(db, clock=Clock(datetime(2025, 11, 27, 9, 15, tzinfo=VN_TZ)))
    report = store.create("hạ tầng", CONTENT, "Phường Kinh Bắc, Bắc Ninh", "0912 345 678", True, "web-1", "rest")
    assert report.code == "PA-251127-0001"
    assert report.content == CONTENT  # verbatim, whitespace included
    assert report.contact == "0912345678" and report.consent is True
    assert report.status == "Đã tiếp nhận" and len(report.history) == 1
    assert store.create("môi trường", "Khói đốt rác", "xã Tiên Du", None, True, "web-2", "rest").code == \
        "PA-251127-0002"
    fetched = store.get("pa 251127 0001")
    assert fetched == report
    assert store.get("PA-251127-0999") is None and store.get("linh tinh") is None


def test_sequence_restarts_each_day(db):
    clock = Clock(datetime(2025, 11, 27, 23, 59, tzinfo=VN_TZ))
    store = FeedbackStore(db, clock=clock)
    assert store.create("khác", "a", "", None, False, "s", "rest").code == "PA-251127-0001"
    clock.at = datetime(2025, 11, 28, 0, 1, tzinfo=VN_TZ)
    assert store.create("khác", "b", "", None, False, "s", "rest").code == "PA-251128-0001"


def test_invalid_input_is_a_vietnamese_error(db):
    store = FeedbackStore(db)
    with pytest.raises(FeedbackError, match="Chủ đề phản ánh không hợp lệ"):
        store.create("giao thông", CONTENT, "", None, False, "s", "rest")
    with pytest.raises(FeedbackError, match="Nội dung phản ánh đang trống"):
        store.create("khác", "   ", "", None, False, "s", "rest")
    with pytest.raises(FeedbackError, match="không hợp lệ"):
        store.create("khác", CONTENT, "", "0912", True, "s", "rest")
    with pytest.raises(FeedbackError, match="Trạng thái không hợp lệ"):
        store.set_status("PA-251127-0001", "Xong", None, "cb1")


def test_status_history(db):
    clock = Clock(datetime(2025, 11, 27, 9, 0, tzinfo=VN_TZ))
    store = FeedbackStore(db, clock=clock)
    code = store.create("trật tự đô thị", "Lấn chiếm vỉa hè", "phố Lý Thái Tổ", None, False, "s", "rest").code
    clock.at = datetime(2025, 11, 28, 14, 30, tzinfo=VN_TZ)
    store.set_status(code, "Đang xử lý", "Đã chuyển UBND phường Kinh Bắc", "can_bo_an")
    clock.at = datetime(2025, 12, 2, 10, 0, tzinfo=VN_TZ)
    report = store.set_status(code, "Đã xử lý", "Đã yêu cầu dỡ bỏ lều quán", "can_bo_an")
    assert [(e.status, e.note, e.staff) for e in report.history] == [
        ("Đã tiếp nhận", "Tiếp nhận qua trợ lý ảo", None),
        ("Đang xử lý", "Đã chuyển UBND phường Kinh Bắc", "can_bo_an"),
        ("Đã xử lý", "Đã yêu cầu dỡ bỏ lều quán", "can_bo_an"),
    ]
    assert format_feedback(report) == (
        "Phản ánh PA-251127-0001 (chủ đề: trật tự đô thị), gửi lúc 09:00 ngày 27/11/2025.\n"
        "Trạng thái: Đã xử lý (cập nhật 10:00 ngày 02/12/2025).\n"
        "Ghi chú của cán bộ: Đã yêu cầu dỡ bỏ lều quán"
    )
    assert [r.code for r in store.list(status="Đã xử lý")] == [code]
    with pytest.raises(FeedbackError, match="Không tìm thấy"):
        store.set_status("PA-251127-0099", "Đã xử lý", None, "cb")


def test_concurrent_creates_get_unique_codes(db):
    store = FeedbackStore(db, clock=lambda: datetime(2025, 11, 27, 10, 0, tzinfo=VN_TZ))
    codes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                codes.append(store.create("khác", f"phản ánh {n}-{i}", "", None, False, f"s{n}", "rest").code)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(codes) == [f"PA-251127-{i:04d}" for i in range(1, 61)]


def test_durable_across_store_instances(db, tmp_path):
    code = FeedbackStore(db).create("môi trường", "Nước thải", "xã Yên Phong", None, False, "s", "rest").code
    from core.db import Database

    fresh = Database(db.url, schema=db.schema)
    assert FeedbackStore(fresh).get(code).content == "Nước thải"
