"""Writing packets (scripts/bank_packets.py): the look-alikes they name, read from the names alone, and the
styles they ask for."""
from types import SimpleNamespace

import pytest

from knowledge import store
from scripts.bank_packets import lookalikes, main, packet


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


def test_a_packet_asks_for_the_styles_the_batch_draws_from():
    procedure = next(p for p in store.load_procedures() if p.code == "1.000656")  # Thủ tục đăng ký khai tử
    text = packet(procedure, [], ["Cấp xã"], casual_styles=["teencode"], portal_styles=["abbrev"], tag="b13")
    assert text.splitlines()[-1] == "- write: 1 `teencode`, 1 `abbrev`"
    assert text.splitlines()[0] == f"### {procedure.code}"


def test_an_unknown_style_is_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--out", str(tmp_path / "packets"), "--casual", "teencode,chat"])
    assert stopped.value.code == 2
    assert "unknown styles: chat" in capsys.readouterr().err
    assert not (tmp_path / "packets").exists()
