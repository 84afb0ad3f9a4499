"""Fast query encoding: the transformer of a sentence-transformers folder exported to ONNX, run by onnxruntime.

Why: a question must be embedded on every chat turn. On this 2-core CPU the PyTorch forward pass of
multilingual-e5-small costs ~38 ms CPU per short question; onnxruntime runs the same graph in ~15 ms with the
same vectors (cosine 1.0000). Passages (index build, batches of thousands) still go through
sentence-transformers. The action server then needs neither torch nor transformers to answer.

The export lives inside the model folder (``onnx/model.onnx`` + ``onnx/export.json``) and is made at setup
by ``scripts/build_e5_model.py``. Only folders whose pipeline is Transformer -> mean Pooling -> Normalize
are supported; anything else keeps using sentence-transformers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
EXPORT_META = "export.json"
PARITY_SENTENCES = (
    "query: Thủ tục đăng ký khai sinh cho con cần giấy tờ gì?",
    "query: lam cccd cho con 5t dc ko",
    "passage: Cấp lại Giấy chứng nhận quyền sử dụng đất do bị mất.",
    "query: How can a foreigner apply for a temporary residence card?",
)


def _mean_pooling_pipeline(model_dir: Path) -> bool:
    """True when the folder is Transformer -> mean Pooling (-> Normalize), the graph this module reproduces."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize")
                                                          for k in kinds):
            return False
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True]
        return modes == ["pooling_mode_mean_tokens"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False


def export_available(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a verified ONNX export this module can run."""
    model_dir = Path(model_dir)
    meta = model_dir / ONNX_DIR / EXPORT_META
    if not (model_dir / ONNX_DIR / ONNX_FILE).exists() or not meta.exists():
        return False
    try:
        verified = json.loads(meta.read_text(encoding="utf-8")).get("min_cosine", 0.0) >= 0.9999
    except (OSError, ValueError):
        return False
    return verified and _mean_pooling_pipeline(model_dir) and (model_dir / "tokenizer.json").exists()


class OnnxQueryRunner:
    """Embeds texts with the exported graph; mean pooling and L2 normalisation as in the folder's pipeline."""

    def __init__(self, model_dir: Path, threads: Optional[int] = None, max_length: Optional[int] = None) -> None:
        """Nothing loads until the first :meth:`embed`."""
        self.model_dir = Path(model_dir)
        self.threads = threads
        self.max_length = max_length or self._max_seq_length()
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _max_seq_length(self) -> int:
        try:
            config = json.loads((self.model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
            return int(config.get("max_seq_length") or 512)
        except (OSError, ValueError):
            return 512

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = int(self.threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(self.model_dir / ONNX_DIR / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length)
        pad_id = tokenizer.token_to_id("<pad>")
        tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0)
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 embeddings of ``texts`` (prefixes already applied by the caller)."""
        with self._lock:
            if self._session is None:
                self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def export(model_dir: Path, opset: int = 17) -> float:
    """Export the folder's transformer to ``onnx/model.onnx`` and verify it; returns the minimum cosine.

    The metadata file is written only when every parity sentence agrees with sentence-transformers to
    cosine >= 0.9999, so a bad export is never used.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir)
    if not _mean_pooling_pipeline(model_dir):
        raise ValueError(f"{model_dir} is not a Transformer -> mean Pooling folder; ONNX export not supported")
    model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = model[0].auto_model.eval()

    class _Graph(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):  # noqa: D102 - traced, not called by users
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = model.tokenizer([PARITY_SENTENCES[0]], return_tensors="pt")
    out_dir = model_dir / ONNX_DIR
    out_dir.mkdir(exist_ok=True)
    (out_dir / EXPORT_META).unlink(missing_ok=True)
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode():
        torch.onnx.export(
            _Graph(transformer), (sample["input_ids"], sample["attention_mask"]), str(out_dir / ONNX_FILE),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=opset, dynamo=False,
        )
    reference = model.encode(list(PARITY_SENTENCES), prompt="", normalize_embeddings=True, convert_to_numpy=True)
    runner = OnnxQueryRunner(model_dir, threads=1)
    ours: List[np.ndarray] = [runner.embed([s])[0] for s in PARITY_SENTENCES]  # one by one: as in a chat
    batch = runner.embed(list(PARITY_SENTENCES))  # and padded together: as in batch evaluation
    min_cos = float(min(np.min(np.sum(reference * np.stack(ours), axis=1)), np.min(np.sum(reference * batch, axis=1))))
    if min_cos >= 0.9999:
        meta = {"opset": opset, "torch": torch.__version__, "min_cosine": round(min_cos, 6),
                "sentences": len(PARITY_SENTENCES)}
        (out_dir / EXPORT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return min_cos
