"""The procedures' English names (knowledge/names_en.py): the shipped file is valid, the validator catches what it
must, and only an English question meets the English passages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from knowledge import names_en, store
from knowledge.index import IndexEntry


def test_shipped_names_are_valid_and_cover_every_procedure():
    assert names_en.problems() == []
    names = names_en.load_names()
    assert set(names) == {p.code for p in store.load_procedures()}
    assert "birth" in names["1.001193"].lower()  # Đăng ký khai sinh


def _kb_with_names(tmp_path: Path, rows: list) -> Path:
    root = tmp_path / "kb"
    (root / "procedures").mkdir(parents=True)
    for code in ("1.001193", "1.000656", "1.004873"):
        shutil.copy(store.data_dir() / "procedures" / f"{code}.json", root / "procedures")
    with open(root / names_en.NAMES_FILE, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return root


def test_validator_reports_bad_lines_codes_text_and_shared_names(tmp_path):
    root = _kb_with_names(tmp_path, [
        {"code": "1.001193", "en": "Birth registration"},
        {"code": "1.001193", "en": "Birth registration again"},
        {"code": "1.000656", "en": "Birth registration"},
        {"code": "9.999999", "en": "Something"},
        {"code": "1.004873", "en": "Đăng ký khai tử"},
        "{not json",
    ])
    found = "\n".join(names_en.problems(root))
    assert "line 2: 1.001193 repeats line 1" in found
    assert "line 3: 1.000656 and 1.001193 differ in Vietnamese but share the English name" in found
    assert "line 4: unknown procedure code '9.999999'" in found
    assert "line 5: 1.004873 has characters outside ASCII" in found
    assert "line 6: not a JSON object" in found


def test_a_missing_name_is_reported(tmp_path):
    root = _kb_with_names(tmp_path, [{"code": "1.001193", "en": "Birth registration"}])
    assert any("2 procedures without an English name" in p for p in names_en.problems(root))


def test_the_english_name_is_a_passage_of_its_own_not_a_vietnamese_one():
    entry = IndexEntry(id="1.001193", kind="procedure", code="1.001193", name="Đăng ký khai sinh",
                       name_en="Birth registration")
    assert entry.english_text() == "Birth registration"
    assert all("Birth" not in text for text in entry.dense_texts())
    assert "Birth" not in entry.lexical_text()
