"""The look-alikes a writing packet names (scripts/bank_packets.py): read from the names alone."""
from types import SimpleNamespace

from scripts.bank_packets import lookalikes


def _procedure(code: str, name: str) -> SimpleNamespace:
    return SimpleNamespace(code=code, name=name)


def test_lookalikes_name_the_sibling_not_the_level_variant_nor_an_unrelated_name():
    procedures = [
        _procedure("1", "Cấp lại giấy phép kinh doanh karaoke (cấp tỉnh)"),
        _procedure("2", "Cấp lại giấy phép kinh doanh karaoke (cấp xã)"),
        _procedure("3", "Cấp đổi giấy phép kinh doanh karaoke"),
        _procedure("4", "Đăng ký khai tử"),
    ]
    found = lookalikes(procedures)
    assert found["1"] == ["Cấp đổi giấy phép kinh doanh karaoke"]
    assert found["3"] == ["Cấp lại giấy phép kinh doanh karaoke (cấp tỉnh)"]
    assert found["4"] == []
