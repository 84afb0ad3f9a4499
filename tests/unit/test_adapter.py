"""The encoder adapter (knowledge/adapter.py): merge arithmetic, the tuned folder and its stamp, the encoder spec."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from knowledge import adapter
from knowledge.encoder import encoder_from_config

Q = adapter.parameter_name(0, "q")
FI = adapter.parameter_name(1, "fi")


def _base(folder, hidden=4, inner=6):
    folder.mkdir()
    rng = np.random.default_rng(0)
    state = {Q: rng.normal(size=(hidden, hidden)).astype(np.float32),
             FI: rng.normal(size=(inner, hidden)).astype(np.float32),
             "embeddings.word_embeddings.weight": rng.normal(size=(10, hidden)).astype(np.float32)}
    save_file(state, str(folder / adapter.WEIGHTS_FILE))
    (folder / "build_stamp.json").write_text(json.dumps({"script_version": "1"}), encoding="utf-8")
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"old export")
    return state


def _adapter(folder, scale_b=1.0, rank=2, alpha=4.0, hidden=4, inner=6):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {"0.q.A": rng.normal(size=(rank, hidden)), "0.q.B": scale_b * rng.normal(size=(hidden, rank)),
              "1.fi.A": rng.normal(size=(rank, hidden)), "1.fi.B": scale_b * rng.normal(size=(inner, rank))}
    arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    np.savez_compressed(folder / adapter.ADAPTER_FILE, **arrays)
    (folder / adapter.META_FILE).write_text(json.dumps({"rank": rank, "alpha": alpha}), encoding="utf-8")
    return arrays


def test_merge_adds_scaled_low_rank_update(tmp_path):
    state = _base(tmp_path / "base")
    arrays = _adapter(tmp_path / "ad")
    merged = adapter.merged_weights(state, arrays, {"rank": 2, "alpha": 4.0})
    expected = state[Q] + 2.0 * arrays["0.q.B"].astype(np.float32) @ arrays["0.q.A"].astype(np.float32)
    np.testing.assert_allclose(merged[Q], expected, rtol=1e-6)
    assert merged[FI].shape == (6, 4)
    # untouched tensors are the same objects; the base state is not modified
    assert merged["embeddings.word_embeddings.weight"] is state["embeddings.word_embeddings.weight"]
    assert not np.allclose(merged[Q], state[Q])


def test_merge_rejects_a_target_the_model_lacks_or_a_wrong_shape(tmp_path):
    state = _base(tmp_path / "base")
    arrays = _adapter(tmp_path / "ad")
    with pytest.raises(KeyError, match="encoder.layer.5"):
        adapter.merged_weights(state, {"5.q.A": arrays["0.q.A"], "5.q.B": arrays["0.q.B"]}, {"rank": 2, "alpha": 4})
    with pytest.raises(ValueError, match="does not fit"):
        adapter.merged_weights(state, {"0.q.A": arrays["1.fi.A"], "0.q.B": arrays["1.fi.B"]}, {"rank": 2, "alpha": 4})


def test_tuned_folder_is_built_once_and_rebuilt_when_the_adapter_changes(tmp_path):
    state = _base(tmp_path / "base")
    ad, out = tmp_path / "ad", tmp_path / "tuned"
    arrays = _adapter(ad)
    assert adapter.build_tuned(tmp_path / "base", out, ad) is True
    merged = load_file(str(out / adapter.WEIGHTS_FILE))
    np.testing.assert_allclose(merged[Q], adapter.merged_weights(state, arrays, {"rank": 2, "alpha": 4.0})[Q],
                               rtol=1e-6)
    assert (out / "modules.json").is_file() and not (out / "onnx").exists()  # the export is redone by the caller
    assert adapter.tuned_is_current(tmp_path / "base", out, ad)
    assert adapter.build_tuned(tmp_path / "base", out, ad) is False
    _adapter(ad, scale_b=2.0)
    assert not adapter.tuned_is_current(tmp_path / "base", out, ad)
    assert adapter.build_tuned(tmp_path / "base", out, ad) is True
    assert not (tmp_path / "tuned.tmp").exists()


def test_an_adapter_trained_on_another_base_model_is_refused(tmp_path):
    _base(tmp_path / "base")
    (tmp_path / "base" / "build_stamp.json").write_text(json.dumps({"sources": {"w": "aaa"}}), encoding="utf-8")
    ad = tmp_path / "ad"
    _adapter(ad)
    (ad / adapter.META_FILE).write_text(json.dumps({"rank": 2, "alpha": 4.0, "base": {"sources": {"w": "bbb"}}}),
                                        encoding="utf-8")
    with pytest.raises(ValueError, match="another base model"):
        adapter.build_tuned(tmp_path / "base", tmp_path / "tuned", ad)
    assert not (tmp_path / "tuned").exists()


def test_tuned_encoder_is_named_after_its_adapter_and_needs_one(tmp_path, monkeypatch):
    ad = tmp_path / "ad"
    _adapter(ad)
    monkeypatch.setattr(adapter, "ADAPTER_DIR", ad)
    encoder = encoder_from_config("e5-small-tuned")
    assert encoder.name == f"e5-small-tuned-{adapter.adapter_digest(ad)}"
    assert encoder.model_dir == adapter.TUNED_DIR.resolve()
    assert encoder._prefix(True) == "query: " and encoder._prefix(False) == "passage: "
    monkeypatch.setattr(adapter, "ADAPTER_DIR", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="KB_ENCODER=e5-small"):
        encoder_from_config("e5-small-tuned")


def test_committed_adapter_fits_e5_small_and_beat_the_untuned_encoder():
    """The adapter in git: every target of all 12 layers, e5-small's shapes, small, and kept only because it beat
    the untuned encoder on the bank's test split (the numbers the tuning script recorded)."""
    assert adapter.adapter_digest() is not None, "knowledge/data/encoder/adapter.npz is missing"
    assert adapter.adapter_path().stat().st_size < 2_000_000
    meta = adapter.read_meta()
    rank = meta["rank"]
    with np.load(adapter.adapter_path()) as data:
        shapes = {k: data[k].shape for k in data.files}
    inner = {"fi": (1536, 384), "fo": (384, 1536)}
    for layer in range(12):
        for target in adapter.TARGETS:
            out_dim, in_dim = inner.get(target, (384, 384))
            assert shapes[f"{layer}.{target}.A"] == (rank, in_dim)
            assert shapes[f"{layer}.{target}.B"] == (out_dim, rank)
    dense = meta["dense_only"]
    assert dense["tuned"]["test"]["hit@1"] > dense["untuned"]["test"]["hit@1"]
    assert dense["tuned"]["test"]["n"] > 3000
