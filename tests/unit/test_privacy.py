"""Personal data masked in free text and in every log record once the filter is installed."""

from __future__ import annotations

import logging

import pytest

from core import privacy
from core.privacy import PiiLogFilter, install_pii_log_filter, mask_email, mask_id, mask_phone, mask_pii


def test_mask_phone_never_shows_the_last_digits():
    assert mask_phone("0912345678") == "091*******"
    assert mask_phone("+84 912 345 678") == "849********"
    assert mask_phone("") == ""


def test_mask_id():
    assert mask_id("027203004567") == "027*********"
    assert mask_id("125678901") == "125******"


def test_mask_email():
    assert mask_email("nguyenvanan@gmail.com") == "n**********@gmail.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tôi là Lan, sđt 0912345678, CCCD 027203004567",
         "Tôi là Lan, sđt 091*******, CCCD 027*********"),
        ("hồ sơ H07.99-251120-0012 của tôi", "hồ sơ H07.99-******-0012 của tôi"),
        ("gọi 0912.345.678 hoặc 0222 3821 234", "gọi 091******* hoặc 022********"),
        ("CMND cũ 125678901.", "CMND cũ 125******."),
        ("email lan.nguyen@bacninh.gov.vn nhé", "email l*********@bacninh.gov.vn nhé"),
        ("hẹn 17 giờ ngày 27/11/2025, phí 50.000 đồng", "hẹn 17 giờ ngày 27/11/2025, phí 50.000 đồng"),
    ],
)
def test_mask_pii(text, expected):
    assert mask_pii(text) == expected


def test_filter_masks_args_and_message():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "lookup %s by %s", ("H07.99-251120-0012",
                               "0987654321"), None)
    assert PiiLogFilter().filter(record) is True
    assert record.getMessage() == "lookup H07.99-******-0012 by 098*******"


def test_install_masks_records_of_any_logger(caplog, monkeypatch):
    original = logging.getLogRecordFactory()
    monkeypatch.setattr(privacy, "_installed", False)
    try:
        install_pii_log_filter()
        install_pii_log_filter()  # idempotent
        with caplog.at_level(logging.INFO, logger="some.module"):
            logging.getLogger("some.module").info("citizen %s sent %s", "0912345678", "CCCD 027203004567")
        assert caplog.records[-1].getMessage() == "citizen 091******* sent CCCD 027*********"
        assert "0912345678" not in caplog.text
    finally:
        logging.setLogRecordFactory(original)


# ---- issue 13, finding 9: spellings the masking used to miss, and look-alikes that must stay ---------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sdt0912345678 gọi giúp tôi", "sdt091******* gọi giúp tôi"),
        ("SĐT:0912345678", "SĐT:091*******"),
        ("số của tôi 0912.345.678 nhé", "số của tôi 091******* nhé"),
        ("gọi (091) 234-5678 giờ hành chính", "gọi 091******* giờ hành chính"),
        ("máy bàn (0222) 3821 234", "máy bàn 022********"),
        ("số +84 912 345 678 có Zalo", "số 849******** có Zalo"),
        ("(+84) 912 345 678", "849********"),
        ("CCCD 0010 9900 1234 của tôi", "CCCD 001********* của tôi"),
        ("căn cước 001-099-001-234", "căn cước 001*********"),
        ("CMND 125 678 901", "CMND 125******"),
        ("CMND số 125.678.901", "CMND số 125******"),
        ("hai số 0912345678 và 0987654321", "hai số 091******* và 098*******"),
        ("Hồ sơ H07.99-251120-0012 — Đăng ký khai sinh (người nộp: Nguyễn Văn An).",
         "Hồ sơ H07.99-******-0012 — Đăng ký khai sinh (người nộp: ***)."),
        ("Tôi là Trần Thị Bích Ngọc, cần hỏi về sổ đỏ", "Tôi là ***, cần hỏi về sổ đỏ"),
        ("tôi tên là lê văn hùng muốn hỏi thủ tục", "tôi tên là *** muốn hỏi thủ tục"),
        ("Họ và tên: Phạm Minh Tuấn", "Họ và tên: ***"),
    ],
)
def test_mask_pii_spellings(text, expected):
    masked = mask_pii(text)
    assert masked == expected
    assert mask_pii(masked) == masked  # idempotent: retention re-runs over masked text


@pytest.mark.parametrize(
    "text",
    [
        "lệ phí 50.000 đồng",
        "phí 1.500.000 đồng, nộp trước 27/11/2025",
        "vốn 150.000.000 đồng",
        "thủ tục 1.009491 và mã quốc gia 1.001234.000.00.00.H01",
        "mã 2.000123.000.00.00.H01 trên Cổng Dịch vụ công",
        "hạn 2025-11-27, ngày 12.05.2024",
        "gọi đường dây nóng 18001096",
        "Nghị định 243/2025/NĐ-CP",
        "tôi ở Hà Nội, con học ở Thành phố Hồ Chí Minh",
        "nhà số 12 Lý Thái Tổ, đường Trần Hưng Đạo",
        "Tôi là Lan, hỏi về hồ sơ đăng ký kết hôn",
    ],
)
def test_non_personal_numbers_and_places_stay(text):
    assert mask_pii(text) == text


def test_verification_reply_is_hidden_in_a_transcript():
    transcript = [
        {"role": "user", "text": "tra cứu hồ sơ H07.99-251120-0012", "at": None},
        {"role": "bot", "text": "Để bảo vệ thông tin của bạn, vui lòng nhập 4 chữ số cuối của số điện thoại hoặc "
                                "số căn cước đã khai khi nộp hồ sơ.", "at": None},
        {"role": "user", "text": "5678 ạ", "at": None},
        {"role": "user", "text": "tôi cần gấp 2 ngày", "at": None},
    ]
    out = privacy.hide_verification_replies(transcript)
    assert [m["text"] for m in out] == ["tra cứu hồ sơ H07.99-251120-0012", transcript[1]["text"], "**** ạ",
                                        "tôi cần gấp 2 ngày"]
    assert transcript[2]["text"] == "5678 ạ"  # the input is not modified


def test_lookup_requests_lose_the_digits_outside_their_codes():
    transcript = [
        {"role": "user", "text": "tra cứu phản ánh PA-251127-0042, 4 số cuối 5678", "intent": "check_feedback_status"},
        {"role": "user", "text": "hồ sơ H07.99-251120-0012 sđt đuôi 5678", "intent": "check_application_status"},
        {"role": "user", "text": "phí 50.000 đồng", "intent": "ask_procedure"},
    ]
    assert [m["text"] for m in privacy.hide_verification_replies(transcript)] == [
        "tra cứu phản ánh PA-251127-0042, * số cuối ****", "hồ sơ H07.99-251120-0012 sđt đuôi ****",
        "phí 50.000 đồng"]
    assert privacy.hide_digits_outside_codes("H07.99-******-0012 và 1234") == "H07.99-******-0012 và ****"
