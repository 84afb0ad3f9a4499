"""Diacritic restoration of questions typed without accents (knowledge/accents.py)."""

import pytest

from knowledge.accents import AccentRestorer, corpus_hash, has_diacritics, is_stale

SENTENCES = [
    "làm giấy khai sinh cho con",
    "đăng ký khai sinh cần giấy tờ gì",
    "cấp lại giấy chứng nhận quyền sử dụng đất",
    "đổi giấy phép lái xe ở đâu",
    "tôi muốn đổi bằng lái xe",
    "lệ phí bao nhiêu tiền",
    "tiền lệ phí",
    "đi đâu",
]


@pytest.fixture(scope="module")
def restorer() -> AccentRestorer:
    return AccentRestorer.train([s.split() for s in SENTENCES], min_bigram=1)


@pytest.mark.parametrize(
    "typed, restored",
    [
        ("lam giay khai sinh cho con", "làm giấy khai sinh cho con"),
        ("doi giay phep lai xe o dau", "đổi giấy phép lái xe ở đâu"),
        ("le phi bao nhieu tien", "lệ phí bao nhiêu tiền"),
        ("cap lai giay chung nhan quyen su dung dat", "cấp lại giấy chứng nhận quyền sử dụng đất"),
        # Unknown syllables stay as typed; teencode is expanded first ("ko" -> "không" is unknown here).
        ("lam giay khai sinh xyz", "làm giấy khai sinh xyz"),
    ],
)
def test_restores_diacritics(restorer, typed, restored):
    assert restorer.restore(typed) == restored


def test_context_decides_between_forms(restorer):
    # "dau" is "đâu" after "ở"/"đi" in this corpus; "doi" is "đổi" before "giấy"/"bằng".
    assert restorer.restore("toi muon doi bang lai xe") == "tôi muốn đổi bằng lái xe"


def test_has_diacritics():
    assert has_diacritics("làm giấy khai sinh")
    assert not has_diacritics("lam giay khai sinh")


def test_saved_model_round_trip_and_staleness(tmp_path, restorer):
    path = tmp_path / "kb-accents.json"
    assert is_stale(path, "abc")
    restorer.save(path, "abc", 0.1)
    assert not is_stale(path, "abc") and is_stale(path, "def")
    loaded = AccentRestorer.load(path)
    assert loaded.restore("le phi bao nhieu tien") == "lệ phí bao nhiêu tiền"


def test_corpus_hash_changes_with_the_knowledge_base(tmp_path):
    (tmp_path / "a.yml").write_text("nlu: []\n", encoding="utf-8")
    assert corpus_hash("k1", tmp_path) != corpus_hash("k2", tmp_path)
