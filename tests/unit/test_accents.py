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


def test_a_teencode_form_never_replaces_the_word_it_stands_for():
    # "e" (teencode for "em") is more frequent here than "em", and "ko" than "không"; the restorer gets the question
    # with its teencode expanded, so only forms of the same diacritic-free spelling compete.
    model = AccentRestorer.train([["e", "muốn", "hỏi"]] * 5 + [["em", "muốn"]] + [["ko", "biết"]] * 5
                                 + [["không", "biết"]], min_bigram=1)
    assert model.restore("e muon hoi") == "em muốn hỏi"
    assert model.restore("ko biet") == "không biết"


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


def test_bank_examples_are_the_accented_train_questions_only(tmp_path):
    import json

    from knowledge.accents import bank_examples

    questions = tmp_path / "questions"
    (questions / "bank").mkdir(parents=True)
    (questions / "split.jsonl").write_text(
        json.dumps({"code": "1.1", "family": "1.1", "split": "train"}) + "\n"
        + json.dumps({"code": "2.2", "family": "2.2", "split": "test"}) + "\n", encoding="utf-8")
    rows = [{"code": "1.1", "q": "Bị mất sổ đỏ thì làm lại ở đâu?", "style": "aspect"},
            {"code": "1.1", "q": "bi mat so do lam lai o dau", "style": "no_diacritics"},
            {"code": "2.2", "q": "Đăng ký kết hôn cần giấy tờ gì?", "style": "aspect"}]
    (questions / "bank" / "a.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert list(bank_examples(tmp_path)) == ["Bị mất sổ đỏ thì làm lại ở đâu?"]


def test_the_knowledge_base_model_restores_strangers_questions():
    # Measured 0.967 of the syllables of the strangers' calibration questions (0.899 before the bank's train
    # questions joined the corpus and teencode forms were kept apart; scripts/eval_accents.py).
    from knowledge.accents import corpus_sentences
    from knowledge.bank import load_strangers

    model = AccentRestorer.train(corpus_sentences())
    numbers = model.syllable_accuracy(r["q"] for r in load_strangers("calibration") if has_diacritics(r["q"]))
    assert numbers["questions"] >= 300 and numbers["syllable_accuracy"] >= 0.95
