"""Personal data masked in free text and in every log record once the filter is installed."""

from __future__ import annotations

import logging

import pytest

from actions.services import privacy
from actions.services.privacy import PiiLogFilter, install_pii_log_filter, mask_email, mask_id, mask_phone, mask_pii


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
