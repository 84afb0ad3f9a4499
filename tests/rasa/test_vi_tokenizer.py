"""VietnameseTokenizer: original offsets, domain terms, teencode/folded lemmas, model storage, pipeline.

Needs the Rasa venv (``.venv-rasa/bin/python -m pytest tests/unit/test_vi_tokenizer.py``); it is skipped
where Rasa is not installed (the actions venv).
"""

from __future__ import annotations

import asyncio
import textwrap
import unicodedata
from pathlib import Path

import pytest

pytest.importorskip("rasa.engine.graph")

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.normalize import fold_diacritics
from nlu_components.vi_tokenizer import VietnameseTokenizer, align_words

CONTEXT = ExecutionContext(GraphSchema({}), "test-vi-tokenizer")


def make_tokenizer(storage_path: Path, resource_name: str = "vi_tokenizer", **config) -> VietnameseTokenizer:
    storage = LocalModelStorage(storage_path)
    full_config = {**VietnameseTokenizer.get_default_config(), **config}
    return VietnameseTokenizer.create(full_config, storage, Resource(resource_name), CONTEXT)


@pytest.fixture
def tokenizer(tmp_path) -> VietnameseTokenizer:
    return make_tokenizer(tmp_path)


@pytest.fixture
def crf_tokenizer(tmp_path) -> VietnameseTokenizer:
    return make_tokenizer(tmp_path, segmenter="underthesea")


def tokens_of(tokenizer: VietnameseTokenizer, text: str):
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    for token in tokens:  # Token.text must always be the original substring at its offsets
        assert text[token.start : token.end] == token.text
    return [(t.text, t.start, t.end) for t in tokens]


def lemmas_of(tokenizer: VietnameseTokenizer, text: str):
    return [t.lemma for t in tokenizer.tokenize(Message(data={"text": text}), "text")]


@pytest.mark.parametrize("mode", ["lexicon", "underthesea"])
def test_offsets_for_terms_and_words(tmp_path, mode):
    tok = make_tokenizer(tmp_path, segmenter=mode)
    assert tokens_of(tok, "Đăng ký khai sinh") == [("Đăng ký khai sinh", 0, 17)]
    assert tokens_of(tok, "Tôi muốn đăng ký thường trú cho con") == [
        ("Tôi", 0, 3), ("muốn", 4, 8), ("đăng ký", 9, 16), ("thường trú", 17, 27), ("cho", 28, 31),
        ("con", 32, 35),
    ]


@pytest.mark.parametrize("mode", ["lexicon", "underthesea"])
def test_eth_lookalike_d_keeps_original_text(tmp_path, mode):
    tok = make_tokenizer(tmp_path, segmenter=mode)
    text = "\u00d0ăng ký kết hôn ở đâu"  # U+00D0 instead of Đ (U+0110); underthesea rewrites it
    assert tokens_of(tok, text) == [("\u00d0ăng ký kết hôn", 0, 15), ("ở", 16, 17), ("đâu", 18, 21)]
    assert lemmas_of(tok, text) == ["dang_ky_ket_hon", "o", "dau"]


def test_old_tone_placement_is_aligned(tokenizer, crf_tokenizer):
    # underthesea turns "hoá" into "hóa"; the token must still be the user's "hoá".
    for tok in (tokenizer, crf_tokenizer):
        assert tokens_of(tok, "Xuất hoá đơn  ở đâu") == [("Xuất", 0, 4), ("hoá đơn", 5, 12), ("ở", 14, 15),
                                                          ("đâu", 16, 19)]
        assert lemmas_of(tok, "Xuất hoá đơn ở đâu") == ["xuat", "hoa_don", "o", "dau"]
    assert tokens_of(crf_tokenizer, "Xuất hoá đơn điện tử thế nào") == [
        ("Xuất", 0, 4), ("hoá đơn điện tử", 5, 20), ("thế nào", 21, 28),
    ]


@pytest.mark.parametrize("mode", ["lexicon", "underthesea"])
def test_decomposed_unicode_offsets(tmp_path, mode):
    tok = make_tokenizer(tmp_path, segmenter=mode)
    text = unicodedata.normalize("NFD", "Làm căn cước công dân ở đâu")
    tokens = tokens_of(tok, text)
    assert [unicodedata.normalize("NFC", t[0]) for t in tokens] == ["Làm", "căn cước công dân", "ở", "đâu"]
    assert [(t[1], t[2]) for t in tokens] == [(0, 4), (5, 28), (29, 32), (33, 37)]
    assert lemmas_of(tok, text) == ["lam", "can_cuoc_cong_dan", "o", "dau"]


def test_double_spaces_and_punctuation_are_not_tokens(tokenizer):
    assert tokens_of(tokenizer, "Cho tôi hỏi:  làm  hộ chiếu ở đâu?!") == [
        ("Cho", 0, 3), ("tôi", 4, 7), ("hỏi", 8, 11), ("làm", 14, 17), ("hộ chiếu", 19, 27), ("ở", 28, 29),
        ("đâu", 30, 33),
    ]
    assert tokens_of(tokenizer, "?!...") == [("?!...", 0, 5)]  # Rasa needs at least one token


def test_application_code_is_one_token(tokenizer, crf_tokenizer):
    for tok in (tokenizer, crf_tokenizer):
        assert tokens_of(tok, "Tra cứu hồ sơ H07.99-251120-0012 giúp tôi.") == [
            ("Tra cứu", 0, 7), ("hồ sơ", 8, 13), ("H07.99-251120-0012", 14, 32), ("giúp", 33, 37),
            ("tôi", 38, 41),
        ]


def test_phone_numbers_dates_and_amounts(tokenizer):
    text = "Gọi 0912 345 678 hoặc +84 912 345 678 trước 12/05/2024, phí 1.500.000đ"
    assert tokens_of(tokenizer, text) == [
        ("Gọi", 0, 3), ("0912 345 678", 4, 16), ("hoặc", 17, 21), ("+84 912 345 678", 22, 37),
        ("trước", 38, 43), ("12/05/2024", 44, 54), ("phí", 56, 59), ("1.500.000đ", 60, 70),
    ]
    assert lemmas_of(tokenizer, "sđt 0912.345.678")[1] == "0912.345.678"
    assert lemmas_of(tokenizer, "số 0912 345 678") == ["so", "0912345678"]


def test_phone_and_id_spellings_of_the_masking_patterns_are_one_token(tokenizer):
    """The tokenizer's phone/ID atoms are the personal-data masking patterns (core.privacy)."""
    text = "Gọi (091) 234-5678 hoặc CCCD 0010 9900 1234, phí 150.000.000 đồng"
    assert tokens_of(tokenizer, text) == [
        ("Gọi", 0, 3), ("(091) 234-5678", 4, 18), ("hoặc", 19, 23), ("CCCD", 24, 28), ("0010 9900 1234", 29, 43),
        ("phí", 45, 48), ("150.000.000", 49, 60), ("đồng", 61, 65),
    ]


def test_teencode_lemmas(tokenizer):
    assert lemmas_of(tokenizer, "ko bít đk cccd ở đâu, bn tiền vậy?") == [
        "khong", "biet", "dang_ky", "can_cuoc_cong_dan", "o", "dau", "bao_nhieu", "tien", "vay",
    ]
    assert lemmas_of(tokenizer, "đổi GPLX ntn") == ["doi", "giay_phep_lai_xe", "nhu_the_nao"]
    assert lemmas_of(tokenizer, "quên mk thì sao") == ["quen", "mat_khau", "thi", "sao"]
    # "mk" is "mình" unless a neighbour is something done to a password or the account it opens.
    assert lemmas_of(tokenizer, "cho mk hỏi lấy lại mk vneid") == [
        "cho", "minh", "hoi", "lay", "lai", "mat_khau", "vneid",
    ]
    assert lemmas_of(tokenizer, "mk quen mat mk roi") == ["minh", "quen", "mat", "mat_khau", "roi"]
    # "ck" is "chồng" beside the speaker, "chứng khoán" after a securities firm; alone it stays as typed.
    assert lemmas_of(tokenizer, "ck e lm khai sinh") == ["chong", "em", "lam", "khai_sinh"]
    assert lemmas_of(tokenizer, "cty ck tăng vốn") == ["cong_ty_chung_khoan", "tang", "von"]
    # Dotted/hyphenated words are not split into teencode pieces ("e" alone would become "em").
    assert lemmas_of(tokenizer, "gửi e-mail cho e") == ["gui", "e_mail", "cho", "em"]


def test_teencode_and_folding_can_be_switched_off(tmp_path):
    tok = make_tokenizer(tmp_path, fold_diacritics=False, expand_teencode=False)
    assert lemmas_of(tok, "Đổi CCCD ở Đâu") == ["đổi", "cccd", "ở", "đâu"]
    tok = make_tokenizer(tmp_path, fold_diacritics=False)
    assert lemmas_of(tok, "Đổi CCCD ở Đâu") == ["đổi", "căn_cước_công_dân", "ở", "đâu"]


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("xin phiếu lý lịch tư pháp số 2", "phiếu lý lịch tư pháp"),
        ("cấp giấy chứng nhận quyền sử dụng đất lần đầu", "giấy chứng nhận quyền sử dụng đất"),
        ("giải thể hộ kinh doanh cá thể", "hộ kinh doanh"),
        ("làm giấy khai sinh cho bé", "giấy khai sinh"),
        ("tích hợp giấy phép lái xe vào VNeID", "giấy phép lái xe"),
    ],
)
def test_domain_terms_stay_one_token(tokenizer, text, term):
    texts = [t[0] for t in tokens_of(tokenizer, text)]
    assert term in texts
    assert fold_diacritics(term).replace(" ", "_") in lemmas_of(tokenizer, fold_diacritics(text))


ACCENTED = [
    "tôi muốn đăng ký khai sinh cho con gái",
    "làm giấy khai sinh cần những giấy tờ gì",
    "thủ tục cấp lại căn cước công dân bị mất",
    "đổi giấy phép lái xe hết hạn ở đâu",
    "hồ sơ đăng ký hộ kinh doanh gồm những gì",
    "xin phiếu lý lịch tư pháp mất bao lâu",
    "lệ phí đăng ký kết hôn là bao nhiêu tiền",
    "tôi quên mật khẩu tài khoản dịch vụ công",
    "chứng thực bản sao ở ủy ban nhân dân xã",
    "cho tôi hỏi hóa đơn điện tử xuất thế nào",
]


@pytest.mark.parametrize("text", ACCENTED)
def test_unaccented_text_gives_the_same_lemmas(tokenizer, text):
    assert lemmas_of(tokenizer, fold_diacritics(text)) == lemmas_of(tokenizer, text)


@pytest.mark.parametrize(
    ("accented", "typed"),
    [
        ("làm giấy khai sinh mất bao lâu", "lam giay ks mat bao lau"),
        ("đăng ký căn cước công dân không mất phí à", "dk cccd ko mat phi a"),
        ("đổi giấy phép lái xe như thế nào", "doi gplx ntn"),
        ("đăng ký hộ kinh doanh hết bao nhiêu tiền", "đk hkd het bn tien"),
    ],
)
def test_teencode_unaccented_typing_matches_accented(tokenizer, accented, typed):
    assert lemmas_of(tokenizer, typed) == lemmas_of(tokenizer, accented)


def test_align_words_maps_normalised_words_to_original():
    text = "Ðăng  ký hoá đơn"
    assert align_words(text, ["Đăng ký", "hóa", "đơn", "không-có"]) == [(0, 8), (9, 12), (13, 16), None]


def test_token_pattern_recomputes_lemmas(tmp_path):
    tok = make_tokenizer(tmp_path, token_pattern=r"\w+")
    assert [(t.text, t.lemma) for t in tok.tokenize(Message(data={"text": "đk gplx"}), "text")] == [
        ("đk", "dang_ky"), ("gplx", "giay_phep_lai_xe"),
    ]


def training_data(*texts: str) -> TrainingData:
    return TrainingData([Message(data={"text": t, "intent": "hoi"}) for t in texts])


def test_persist_and_load_custom_terms_and_learned_compounds(tmp_path):
    terms_file = tmp_path / "my_terms.txt"
    terms_file.write_text("# custom\nbiên lai điện tử\n", encoding="utf-8")
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("vi_tokenizer_custom")
    config = {**VietnameseTokenizer.get_default_config(), "terms_file": str(terms_file)}
    trained = VietnameseTokenizer.create(config, storage, resource, CONTEXT)
    data = training_data("xin biên lai điện tử", "tôi cần bản sao giấy tờ", "nộp giấy tờ ở đâu")
    returned = trained.train(data)
    assert returned == resource
    terms_file.unlink()  # loading must not need the original file any more

    loaded = VietnameseTokenizer.load(config, storage, resource, CONTEXT)
    assert tokens_of(loaded, "xuất bien lai dien tu") == [("xuất", 0, 4), ("bien lai dien tu", 5, 21)]
    # The packaged default terms ("hộ chiếu") are not used: the custom file replaced them.
    assert tokens_of(loaded, "làm hộ chiếu") == [("làm", 0, 3), ("hộ", 4, 6), ("chiếu", 7, 12)]
    assert tokens_of(make_tokenizer(tmp_path), "làm hộ chiếu") == [("làm", 0, 3), ("hộ chiếu", 4, 12)]
    # "giấy tờ" was learned from the training data (underthesea + Viet74K) and stored with the model.
    assert lemmas_of(loaded, "giay to gi") == ["giay_to", "gi"]


def test_load_without_stored_resource_falls_back_to_config(tmp_path):
    storage = LocalModelStorage(tmp_path)
    config = VietnameseTokenizer.get_default_config()
    loaded = VietnameseTokenizer.load(config, storage, Resource("never_trained"), CONTEXT)
    assert lemmas_of(loaded, "làm gplx") == ["lam", "giay_phep_lai_xe"]


def test_unknown_segmenter_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="segmenter"):
        make_tokenizer(tmp_path, segmenter="jieba")


NLU_DATA = """
version: "3.1"
nlu:
  - intent: ask_birth_registration
    examples: |
      - đăng ký khai sinh cho con cần gì
      - làm giấy khai sinh ở đâu
      - thủ tục khai sinh cho bé
      - khai sinh cho con mất bao lâu
      - xin cấp lại giấy khai sinh
      - đăng ký khai sinh có mất phí không
  - intent: ask_driving_licence
    examples: |
      - đổi giấy phép lái xe ở đâu
      - giấy phép lái xe hết hạn thì làm sao
      - thi bằng lái xe máy cần gì
      - cấp lại giấy phép lái xe bị mất
      - đổi bằng lái xe ô tô mất bao lâu
      - giấy phép lái xe quốc tế làm ở đâu
  - intent: check_status
    examples: |
      - tra cứu hồ sơ H07.99-251120-0012
      - hồ sơ của tôi đến đâu rồi
      - kiểm tra tình trạng hồ sơ đã nộp
      - hồ sơ mã 000.00.12.H07-220310-0001 xong chưa
      - xem tiến độ giải quyết hồ sơ
      - hồ sơ nộp hôm qua đã được duyệt chưa
"""

PIPELINE_CONFIG = """
recipe: default.v1
language: vi
assistant_id: vi-tokenizer-test
pipeline:
  - name: nlu_components.vi_tokenizer.VietnameseTokenizer
  - name: CountVectorsFeaturizer
    use_lemma: true
  - name: LogisticRegressionClassifier
    random_state: 42
policies: []
"""


def test_tokenizer_in_a_trained_rasa_nlu_pipeline(tmp_path):
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    (tmp_path / "nlu.yml").write_text(textwrap.dedent(NLU_DATA), encoding="utf-8")
    (tmp_path / "config.yml").write_text(PIPELINE_CONFIG, encoding="utf-8")
    model_path = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"))
    assert model_path and Path(model_path).exists()

    agent = Agent.load(model_path)

    def parse(text):
        return asyncio.run(agent.parse_message(text))

    expectations = {
        "làm giấy khai sinh cho con": "ask_birth_registration",
        "lam giay ks cho con": "ask_birth_registration",
        "doi giay phep lai xe o dau": "ask_driving_licence",
        "đổi gplx ở đâu": "ask_driving_licence",
        "tra cuu ho so H07.99-251120-0099": "check_status",
    }
    for text, intent in expectations.items():
        assert parse(text)["intent"]["name"] == intent, text
    accented = parse("đổi giấy phép lái xe ở đâu")["intent"]
    unaccented = parse("doi giay phep lai xe o dau")["intent"]
    assert accented["confidence"] == pytest.approx(unaccented["confidence"])
    assert parse("Ðổi giấy phép lái xe")["text_tokens"] == [(0, 3), (4, 20)]
