"""A low-rank (LoRA) adapter for the e5-small encoder, and the tuned model folder built from it.

The encoder is adapted to this domain by ``scripts/tune_encoder.py``: low-rank updates ``B @ A`` of the
attention and feed-forward matrices, trained on (citizen question, procedure name) pairs of the question bank's
train split. Only the adapter (``knowledge/data/encoder/adapter.npz`` + ``adapter.json``, ~1 MB) is committed;
setup merges it into a copy of the base folder (``models/e5-small-st`` -> ``models/e5-small-tuned``):
``W' = W + scale * B @ A``, so the tuned model runs exactly as fast as the base one (same shapes, same ONNX
export). numpy + safetensors only: nothing here needs torch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Dict, Optional

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
ADAPTER_DIR = REPO_ROOT / "knowledge" / "data" / "encoder"
ADAPTER_FILE = "adapter.npz"
META_FILE = "adapter.json"
TUNED_DIR = REPO_ROOT / "models" / "e5-small-tuned"
STAMP_FILE = "adapter_stamp.json"
WEIGHTS_FILE = "model.safetensors"
# Adapter target -> parameter path inside one BERT layer (Hugging Face BertModel names, without ".weight").
TARGETS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


def adapter_path(directory: Optional[Path] = None) -> Path:
    """The committed adapter's weights file."""
    return Path(directory or ADAPTER_DIR) / ADAPTER_FILE


def adapter_digest(directory: Optional[Path] = None) -> Optional[str]:
    """First 12 hex digits of sha256 over the adapter's weights and metadata, or None when there is none."""
    directory = Path(directory or ADAPTER_DIR)
    weights, meta = directory / ADAPTER_FILE, directory / META_FILE
    if not weights.is_file() or not meta.is_file():
        return None
    digest = hashlib.sha256(weights.read_bytes())
    digest.update(meta.read_bytes())
    return digest.hexdigest()[:12]


def read_meta(directory: Optional[Path] = None) -> dict:
    """The adapter's metadata (rank, alpha, targets, training set-up and measured numbers)."""
    return json.loads((Path(directory or ADAPTER_DIR) / META_FILE).read_text(encoding="utf-8"))


def parameter_name(layer: int, target: str) -> str:
    """Checkpoint name of the weight matrix an adapter target updates."""
    return f"encoder.layer.{layer}.{TARGETS[target]}.weight"


def merged_weights(state: Dict[str, np.ndarray], arrays: Dict[str, np.ndarray], meta: dict) -> Dict[str, np.ndarray]:
    """The base checkpoint with every adapter update added (returns a new dict; float32 where updated)."""
    scale = float(meta["alpha"]) / float(meta["rank"])
    out = dict(state)
    for key in sorted(arrays):
        if not key.endswith(".A"):
            continue
        stem = key[: -len(".A")]  # "<layer>.<target>"
        layer_text, target = stem.split(".", 1)
        name = parameter_name(int(layer_text), target)
        if name not in out:
            raise KeyError(f"adapter targets {name}, which the base model does not have")
        a = arrays[key].astype(np.float32)
        b = arrays[stem + ".B"].astype(np.float32)
        weight = out[name].astype(np.float32)
        if (b.shape[0], a.shape[1]) != weight.shape:
            raise ValueError(f"adapter {stem}: {b.shape} @ {a.shape} does not fit {name} {weight.shape}")
        out[name] = weight + scale * (b @ a)
    return out


def tuned_is_current(base_dir: Path, out_dir: Path, directory: Optional[Path] = None) -> bool:
    """Whether ``out_dir`` holds the base model merged with the current adapter."""
    try:
        stamp = json.loads((out_dir / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == _stamp(base_dir, directory)


def _stamp(base_dir: Path, directory: Optional[Path]) -> dict:
    base = json.loads((base_dir / "build_stamp.json").read_text(encoding="utf-8"))
    return {"base": base, "adapter": adapter_digest(directory)}


def build_tuned(base_dir: Path, out_dir: Path = TUNED_DIR, directory: Optional[Path] = None) -> bool:
    """Write the tuned model folder (a copy of ``base_dir`` with merged weights); False when already current.

    The ONNX query export is not copied: the caller re-exports it from the merged weights.
    """
    from safetensors.numpy import load_file, save_file

    if adapter_digest(directory) is None:
        raise FileNotFoundError(f"no adapter in {directory or ADAPTER_DIR}")
    if tuned_is_current(base_dir, out_dir, directory):
        return False
    meta = read_meta(directory)
    base = json.loads((base_dir / "build_stamp.json").read_text(encoding="utf-8"))
    if meta.get("base") and meta["base"].get("sources") != base.get("sources"):
        raise ValueError(f"the adapter was trained on another base model than {base_dir} (see {META_FILE})")
    with np.load(adapter_path(directory)) as data:
        arrays = {k: data[k] for k in data.files}
    state = merged_weights(load_file(str(base_dir / WEIGHTS_FILE)), arrays, meta)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base_dir, tmp, ignore=shutil.ignore_patterns("onnx", WEIGHTS_FILE, STAMP_FILE))
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp / WEIGHTS_FILE),
              metadata={"format": "pt"})
    (tmp / STAMP_FILE).write_text(json.dumps(_stamp(base_dir, directory), indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return True
