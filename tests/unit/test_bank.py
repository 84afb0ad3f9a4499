"""The question bank (knowledge/bank.py): the shipped bank is valid, the validator catches what it must."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from knowledge import bank, store
from knowledge.contrast import expand_ranges, get_contrasts
from knowledge.text import fold


def test_shipped_bank_is_valid():
    result = bank.validate()
    assert result["problems"] == []
    stats = result["stats"]
    assert stats["procedures_covered"] == stats["procedures"] == 2642
    assert stats["unanswerable"] >= 600
    assert 0.15 <= stats["test_share_procedures"] <= 0.25
    assert stats["near_duplicate_share"] < 0.05


def test_split_file_matches_the_family_rule():
    procedures = store.load_procedures()
    recorded = bank.load_split()
    computed = {r["code"]: r for r in bank.compute_split([(p.code, p.name) for p in procedures])}
    assert recorded == computed


def test_the_bank_folds_with_its_frozen_table_not_the_live_one(tmp_path, monkeypatch):
    """Growing nlu_components/teencode.tsv must not move families or unanswerable questions between the splits."""
    import nlu_components.normalize as normalize

    name = "Miễn thuế TNCN theo NĐ 65/2013"
    question = "cty e nộp thuế tncn theo nđ mới ở đâu"
    before = (bank.family_key(name), bank.unanswerable_split(question), bank.bank_fold(question))
    assert "tncn" in bank.family_key(name)  # the frozen table has no entry for it
    grown = tmp_path / "teencode.tsv"
    grown.write_text("tncn\tthu nhập cá nhân\nnđ\tnghị định\ne\tem\n", encoding="utf-8")
    monkeypatch.setattr(normalize, "_default_teencode", lambda: normalize.load_teencode(str(grown)))
    assert fold(question) == "cty em nop thue thu nhap ca nhan theo nghi dinh moi o dau"  # the live table moved
    assert (bank.family_key(name), bank.unanswerable_split(question), bank.bank_fold(question)) == before


@pytest.mark.parametrize("a, b", [
    ("Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)", "Cấp đổi thẻ căn cước"),
    ("Cấp giấy phép khai thác khoáng sản (cấp Bộ)", "Gia hạn giấy phép khai thác khoáng sản (cấp Bộ)"),
    ("Đăng ký khai sinh có yếu tố nước ngoài", "Đăng ký khai sinh"),
    ("Cấp giấy phép nhập khẩu pháo hoa", "Cấp giấy phép xuất khẩu pháo hoa"),
])
def test_siblings_share_a_family_key(a, b):
    assert bank.family_key(a) == bank.family_key(b)


def test_different_procedures_do_not_share_a_family_key():
    assert bank.family_key("Đăng ký khai sinh") != bank.family_key("Đăng ký khai tử")


def test_every_family_is_on_one_side_of_the_split():
    sides = {}
    for row in bank.load_split().values():
        sides.setdefault(row["family"], set()).add(row["split"])
    assert all(len(parts) == 1 for parts in sides.values())


def test_train_loader_never_returns_test_families():
    split = bank.load_split()
    for q in bank.load_bank(splits=("train",)):
        assert q.split == "train"
        if q.code:
            assert split[q.code]["split"] == "train"


def _copy_kb(tmp_path: Path) -> Path:
    """A knowledge folder with a handful of procedures, their split and a small bank."""
    root = tmp_path / "kb"
    (root / "procedures").mkdir(parents=True)
    codes = ["1.001193", "1.000656", "1.004873"]
    for code in codes:
        shutil.copy(store.data_dir() / "procedures" / f"{code}.json", root / "procedures")
    procs = store.load_procedures(root)
    qdir = root / "questions"
    (qdir / "bank").mkdir(parents=True)
    with open(qdir / "split.jsonl", "w", encoding="utf-8") as handle:
        for row in bank.compute_split([(p.code, p.name) for p in procs]):
            handle.write(json.dumps(row) + "\n")
    return root


def _write_bank(root: Path, lines: list) -> None:
    with open(root / "questions" / "bank" / "a.jsonl", "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")


def test_validator_reports_unknown_codes_duplicates_and_bad_lines(tmp_path):
    root = _copy_kb(tmp_path)
    _write_bank(root, [
        {"code": "9.999999", "q": "Làm giấy khai sinh cho con ở đâu?", "style": "story"},
        {"code": "1.001193", "q": "Làm giấy khai sinh cho bé cần giấy tờ gì?", "style": "aspect"},
        {"code": "1.000656", "q": "Làm giấy khai sinh cho bé cần giấy tờ gì?", "style": "aspect"},
        {"code": "1.000656", "q": "Bố tôi mất thì báo tử ở đâu?", "style": "poem"},
        {"code": None, "q": "Lương hưu năm nay tăng bao nhiêu?", "style": "story"},
        "{not json",
    ])
    problems = "\n".join(bank.validate(root)["problems"])
    assert "unknown procedure code '9.999999'" in problems
    assert "a.jsonl:3: duplicate of a.jsonl:2" in problems
    assert "style 'poem'" in problems
    assert "a.jsonl:5: unanswerable question needs a topic" in problems
    assert "a.jsonl:6: not JSON" in problems
    assert "procedures below their minimum" in problems


def test_validator_reports_a_family_split_across_train_and_test(tmp_path):
    root = _copy_kb(tmp_path)
    rows = [json.loads(line) for line in (root / "questions" / "split.jsonl").read_text().splitlines()]
    rows[0]["split"], rows[1]["split"] = "train", "test"
    rows[1]["family"] = rows[0]["family"]
    (root / "questions" / "split.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    _write_bank(root, [])
    problems = "\n".join(bank.validate(root)["problems"])
    assert "families split across train and test" in problems


def test_validator_checks_the_strangers_sets(tmp_path):
    root = _copy_kb(tmp_path)
    _write_bank(root, [{"code": "1.001193", "q": "Làm giấy khai sinh cho bé cần giấy tờ gì?", "style": "aspect"}])
    split = bank.load_split(root)
    side = {code: row["split"] for code, row in split.items()}
    (root / "questions" / "strangers").mkdir()
    wrong_side = "calibration" if side["1.000656"] == "test" else "test"
    rows = [
        {"id": "s1", "q": "Bố tôi vừa mất, báo tử ở đâu?", "style": "story", "code": "1.000656",
         "expected": ["1.000656"]},
        {"id": "s1", "q": "Làm giấy khai sinh cho bé cần giấy tờ gì?", "style": "aspect", "code": "1.001193",
         "expected": ["1.001193", "1.004873"]},
        {"id": "s3", "q": "Lương hưu năm nay tăng bao nhiêu?", "style": "short", "code": None, "expected": [],
         "topic": "policy_amount"},
    ]
    with open(bank.strangers_path(wrong_side, root), "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    problems = "\n".join(bank.validate(root)["problems"])
    assert f"strangers/{wrong_side}.jsonl:s1: 1.000656 is a {side['1.000656']} family" in problems
    assert f"strangers/{wrong_side}.jsonl:s1: duplicate id" in problems
    assert f"strangers/{wrong_side}.jsonl:s1: also a bank question" in problems
    assert f"strangers/{wrong_side}.jsonl:s1: expected must be 1.001193 and its level variants" in problems
    missing = "test" if wrong_side == "calibration" else "calibration"
    assert f"strangers/{missing}.jsonl: 0 questions, fewer than {bank.MIN_STRANGERS[missing]}" in problems
    assert "s3" not in problems


def test_near_duplicates_are_counted_within_a_procedure():
    make = lambda text: bank.Question("1.001193", text, "short", "train", "1.001193", "a", 1)  # noqa: E731
    pairs = bank.near_duplicates([make("làm giấy khai sinh cho con ở đâu"), make("làm giấy khai sinh cho con ở đâu ạ"),
                                  make("đăng ký khai sinh cho bé mới sinh cần những gì")])
    assert len(pairs) == 1


def test_contrast_values_of_questions_and_names():
    table = get_contrasts()
    asked = table.asked_values(fold("Công ty tôi muốn nhập khẩu pháo hoa từ Trung Quốc"))
    assert asked["direction"] == {"nhap_khau"}
    assert asked["subject"] == {"to_chuc"}
    assert table.name_values("Đăng ký khai sinh không có yếu tố nước ngoài")["foreign"] == frozenset()
    assert table.name_values("Đăng ký khai sinh có yếu tố nước ngoài")["foreign"] == {"nuoc_ngoai"}
    assert table.name_values("Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)")["level"] == {"trung_uong"}
    # Some portal names abbreviate the central level.
    assert table.name_values("Cấp giấy phép nhận chìm ở biển (cấp TW)")["level"] == {"trung_uong"}
    assert table.asked_values(fold("chồng tôi người Hàn, đăng ký kết hôn ở đâu"))["foreign"] == {"nuoc_ngoai"}


@pytest.mark.parametrize("question, ages", [
    ("làm thẻ căn cước cho con 14 tuổi", {"tu_14"}),
    ("con tôi 9 tuổi làm căn cước ở đâu", {"duoi_14"}),
    ("bé 3 tuổi có phải làm căn cước không", {"duoi_6", "duoi_14"}),
    ("thẻ căn cước cho trẻ dưới 14 tuổi", {"duoi_14"}),  # not "14 tuổi" of the other value
    ("cháu chưa đủ 14 tuổi", {"duoi_14"}),
    ("bé 5 tháng tuổi", {"duoi_6", "duoi_14"}),
    ("bà tôi 82 tuổi làm lại căn cước", {"tu_14"}),
    ("làm căn cước cho con", set()),
])
def test_ages_are_read_as_numbers(question, ages):
    assert get_contrasts().asked_values(fold(question))["age"] == ages


def test_a_phrase_inside_a_longer_one_of_another_value_does_not_count():
    table = get_contrasts()
    assert table.name_values("Cấp thẻ căn cước cho người dưới 14 tuổi")["age"] == {"duoi_14"}
    assert table.name_values("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên")["age"] == {"tu_14"}
    assert table.asked_values(fold("thành phố trực thuộc trung ương"))["level"] == {"tinh"}
    assert expand_ranges("{1-3} tuổi") == ["1 tuổi", "2 tuổi", "3 tuổi"]


@pytest.mark.parametrize("a, b, nested", [
    ("Thủ tục đăng ký khai sinh", "Thủ tục đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân", True),
    ("Cấp giấy phép lái xe quốc tế", "Cấp giấy phép lái xe", True),
    ("Gia hạn tạm trú (thực hiện tại cấp tỉnh)", "Gia hạn tạm trú cho người nước ngoài tại Việt Nam", True),
    ("Xóa đăng ký", "Xóa đăng ký biện pháp bảo đảm bằng tàu biển", False),  # too short to be a topic
    ("Cấp lại giấy phép lái xe", "Cấp lại Giấy phép kinh doanh vận tải bằng xe ô tô", False),
    ("Đăng ký khai sinh", "Đăng ký khai sinh", False),  # the same name twice is not a special case
])
def test_nested_names_are_the_ordinary_case_and_a_special_one(a, b, nested):
    assert bank.nested_names(a, b) is nested
    assert bank.nested_names(b, a) is nested
