"""Application and feedback codes extracted from the ways citizens actually type them."""

from __future__ import annotations

import pytest

from core.appcode import (
    extract_application_code,
    extract_feedback_code,
    is_canonical_application_code,
    mask_code,
)


@pytest.mark.parametrize(
    "text",
    [
        "H07.99-251120-0012",
        "hồ sơ của tôi mã h07.99 251120 0012 đến đâu rồi",
        "H0799-251120-0012",
        "H07.99.251120.0012",
        "H07.99 - 251120 - 0012",
        "mã hồ sơ:   H07.99  251120   0012.",
        "ma ho so h07.99–251120–0012 nhe",
        "H07.99/251120/0012",
        "(H07.99-251120-0012)",
    ],
)
def test_application_code_in_any_common_format(text):
    assert extract_application_code(text) == "H07.99-251120-0012"


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "Tôi muốn tra cứu hồ sơ",
        "số điện thoại 0912345678",
        "H07.99-251120-001",  # sequence too short
        "H07.99-25112-0012",  # date too short
        "AH07.99-251120-0012",  # letter glued to another letter
        "H07.99-251120-00123",  # trailing digit
        "CCCD 027203004567",
    ],
)
def test_no_application_code(text):
    assert extract_application_code(text) is None


def test_first_code_wins_and_letter_is_upper_cased():
    assert extract_application_code("h07.01 251126 0001 và H07.99-251120-0012") == "H07.01-251126-0001"


@pytest.mark.parametrize("text", ["PA-251127-0042", "pa 251127 0042", "tra cứu phản ánh Pa.251127.0042 giúp tôi",
                                  "PA251127-0042"])
def test_feedback_code(text):
    assert extract_feedback_code(text) == "PA-251127-0042"


def test_feedback_code_is_not_an_application_code():
    assert extract_application_code("pa 251127 0042") is None
    assert extract_feedback_code("H07.99-251120-0012") is None
    assert extract_feedback_code("PA-2511-0042") is None


def test_mask_code_hides_the_date():
    assert mask_code("H07.99-251120-0012") == "H07.99-******-0012"
    assert mask_code("h07.99 251120 0012") == "H07.99-******-0012"
    assert mask_code("không phải mã") == "*************"
    assert mask_code(None) == ""


def test_canonical_check():
    assert is_canonical_application_code("H07.99-251120-0012")
    assert not is_canonical_application_code("h07.99 251120 0012")
