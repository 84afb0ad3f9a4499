"""Importer tests on real portal records (tests/unit/fixtures/tthc_*.json) with exact expectations."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from knowledge.importer import (
    import_source,
    parse_channels,
    parse_documents,
    parse_legal_basis,
    parse_record,
    split_list,
)

ROOT = Path(__file__).resolve().parents[2]

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load(code: str) -> dict:
    return json.loads((FIXTURES / f"tthc_{code}.json").read_text(encoding="utf-8"))


def test_lawyer_registration_documents_forms_and_quantities():
    proc = parse_record(load("1.002010"))
    docs = [(d.name, d.form, d.originals, d.copies, d.section) for d in proc.documents]
    assert docs == [
        ("Dự thảo Điều lệ của công ty luật", None, 1, 0, "submit"),
        ("Giấy tờ chứng minh về trụ sở của tổ chức hành nghề luật sư.", None, 0, 1, "submit"),
        ("Giấy đề nghị đăng ký hoạt động theo mẫu thống nhất", "Mẫu TP-LS-02-sđ.docx", 1, 0, "submit"),
    ]


def test_lawyer_registration_fee_in_thousands_is_suspect():
    proc = parse_record(load("1.002010"))
    assert [c.kind for c in proc.channels] == ["online", "post", "in_person"]
    online = proc.channels[0]
    assert (online.duration.value, online.duration.unit) == (7.0, "Ngày làm việc")
    # the source says "50 VNĐ" while the detail says 25.000 đồng: flagged, not corrected
    assert (online.fee.amount_vnd, online.fee.free, online.fee.suspect) == (50, False, True)
    assert online.fee.detail.startswith("(áp dụng mức phí 25.000 đồng/hồ sơ")


def test_lawyer_registration_legal_basis_codes():
    codes = [lb.code for lb in parse_record(load("1.002010")).legal_basis]
    assert codes == ["64/2025/TT-BTC", "47/2019/TT-BTC", "08/2025/TT-BTP", "65/2006/QH11",
                     "66.16/2026/NQ-CP", "03/2024/TT-BTP", "05/2021/TT-BTP", "123/2013/NĐ-CP"]


def test_lawyer_registration_two_results_without_ui_noise():
    proc = parse_record(load("1.002010"))
    assert [(r.name, r.code) for r in proc.results] == [
        ("Giấy đăng ký hoạt động cho Văn phòng luật sư/Công ty TNHH 1 thành viên", "KQ.G15.000168"),
        ("Giấy đăng ký hoạt động cho Công ty Luật hợp danh/Công ty TNHH 2 thành viên trở lên", "KQ.G15.000329"),
    ]


def test_driving_licence_exchange():
    proc = parse_record(load("3.000347"))
    assert proc.name == "Đổi giấy phép lái xe"
    assert proc.levels == ["Cấp bộ"]
    assert proc.decision == "1025/QĐ-BCA"
    assert [c.kind for c in proc.channels] == ["online", "in_person"]
    fee = proc.channels[0].fee
    # "Miễn phí" while the detail lists "135.000 đồng/lần": suspect
    assert (fee.free, fee.amount_vnd, fee.suspect) == (True, None, True)
    assert [(d.originals, d.copies) for d in proc.documents] == [(1, 0), (1, 0), (1, 0), (1, 0), (0, 1)]
    assert proc.documents[2].name == (
        "Hộ chiếu còn thời hạn sử dụng (đối với người nước ngoài, người Việt Nam định cư ở nước ngoài)")
    assert [lb.code for lb in proc.legal_basis] == [
        "12/2025/TT-BCA", "06/2025/TT-BTC", "37/2023/TT-BTC", "63/2023/TT-BTC"]
    assert proc.result == "Giấy phép lái xe"
    assert "đổi bằng lái" in proc.aliases and "đổi gplx" in proc.aliases
    assert proc.description == ("Thủ tục cấp bộ, lĩnh vực Sát hạch, cấp giấy phép lái xe: "
                                "đổi giấy phép lái xe (có thể nộp trực tuyến).")


def test_customs_time_glued_to_fee_and_grouped_documents():
    proc = parse_record(load("1.000005"))
    (channel,) = proc.channels
    # "Trực tuyến120,000 VNĐ": time "1" glued to the amount "20,000"
    assert (channel.duration.value, channel.duration.unit, channel.fee.amount_vnd) == (1.0, None, 20000)
    assert channel.fee.suspect is True
    assert proc.documents[0].group == "1. Chứng từ phải nộp"
    assert proc.documents[2].name == "b) Hóa đơn thương mại: 01 bản chụp;"
    assert (proc.documents[2].originals, proc.documents[2].copies) == (0, 1)
    assert [lb.code for lb in proc.legal_basis] == ["54/2014/QH13", "92/2015/TT-BTC", "78/2006/QH11"]
    assert proc.results[0].code == "KQ.G12.000327"


def test_complaint_procedure_channels_and_year_glued_code():
    proc = parse_record(load("1.000178"))
    assert [(c.kind, c.duration.value, c.duration.unit, c.fee.text) for c in proc.channels] == [
        ("post", 60.0, "Ngày làm việc", ""), ("in_person", 60.0, "Ngày làm việc", "")]
    assert proc.channels[0].description.startswith("Thời hạn giải quyết khiếu nại lần đầu không quá 30 ngày")
    assert len(proc.documents) == 8
    assert proc.documents[-1].name == "Đơn khiếu nại hoặc bản ghi nội dung khiếu nại"
    # "Luật Khiếu nại  năm 201102/2011/QH13": the title's year is glued to the code
    assert [(lb.title, lb.code) for lb in proc.legal_basis][1] == ("Luật Khiếu nại năm 2011", "02/2011/QH13")
    assert proc.agencies.competent == ["Bộ Công an"]
    assert proc.agencies.implementing == ["Thanh tra Bộ"]
    assert proc.applicants == ["Tổ chức (không bao gồm doanh nghiệp, HTX)", "Công dân Việt Nam"]
    assert proc.steps[0].startswith("Bước 1: Thụ lý giải quyết khiếu nại\nNếu khiếu nại")
    assert len(proc.steps) == 5
    assert proc.related == [] and proc.conditions.startswith("Đảm bảo đúng quy định")


@pytest.mark.parametrize("text, expected", [
    ("Thuế tỉnh, thành phố, Thuế cơ sở", ["Thuế tỉnh, thành phố", "Thuế cơ sở"]),
    ("Cán bộ, công chức, viên chức", ["Cán bộ, công chức, viên chức"]),
    ("Không có thông tin", []),
])
def test_split_list(text, expected):
    assert split_list(text) == expected


def test_free_text_time_cell_and_show_section():
    channels = parse_channels("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyếnKhông quy địnhMiễn phíQua Cổng DVC")
    assert [(c.kind, c.duration.text, c.fee.free, c.description) for c in channels] == [
        ("online", "Không quy định", True, "Qua Cổng DVC")]
    docs = parse_documents("* Giấy tờ phải xuất trình:Tên giấy tờMẫu đơn, tờ khaiSố lượngThẻ căn cước1 bản chính")
    assert [(d.name, d.section, d.originals) for d in docs] == [("Thẻ căn cước", "show", 1)]
    assert parse_legal_basis("Không có thông tin") == []


def _write_source(path: Path, codes: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for code in codes:
            fh.write(json.dumps(load(code), ensure_ascii=False) + "\n")


def test_import_is_deterministic_and_removes_stale_files(tmp_path):
    src = tmp_path / "src.jsonl.gz"
    out = tmp_path / "data" / "procedures"
    _write_source(src, ["1.002010", "3.000347", "1.000178"])
    first = import_source(src, out)
    snapshot = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.json")}
    second = import_source(src, out)
    assert (first["written"], second["written"], second["unchanged"]) == (3, 0, 3)
    assert snapshot == {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.json")}
    text = snapshot["3.000347.json"]
    assert text.endswith("}\n") and '"name": "Đổi giấy phép lái xe"' in text
    _write_source(src, ["1.002010", "3.000347"])
    third = import_source(src, out)
    assert third["removed"] == 1 and sorted(p.name for p in out.glob("*.json")) == [
        "1.002010.json", "3.000347.json"]
    meta = json.loads((tmp_path / "data" / "SOURCE.json").read_text(encoding="utf-8"))
    assert meta["records"] == 2 and len(meta["sha256"]) == 64


def test_quality_command_reports_the_parse_of_a_source(tmp_path, capsys):
    """``python -m knowledge quality`` (and scripts/parse_quality.py) runs the importer's quality report in-process."""
    from knowledge.cli import main

    src = tmp_path / "src.jsonl.gz"
    _write_source(src, ["1.002010", "3.000347", "1.000178"])
    assert main(["quality", str(src), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 3 and report["fields"]["name"]["clean"] == 3
