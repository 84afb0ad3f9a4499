#!/usr/bin/env python
"""Adapt the e5-small encoder to citizens' questions: train a LoRA adapter on the question bank's train split.

Pairs: every answerable train question of the bank (``knowledge/data/questions``), embedded exactly as the
searcher embeds a question (rewriting, restored diacritics), with the name of its procedure as the positive
passage. Negatives: the other passages of the batch, plus one hard negative per question: a sibling of the
same family when there is one (cấp mới / cấp lại, nhập / xuất khẩu, levels ...), else one of the passages the
untuned encoder ranks highest for that question. Loss: InfoNCE (scale 20). Low-rank updates (rank 8) of the
attention and feed-forward matrices of all 12 layers; everything else frozen. Nothing from the bank's test
families is read. Seeded; `make tune-encoder` reruns it and rewrites ``knowledge/data/encoder/``.

The script then reports dense-only retrieval (question -> procedure name) for the untuned and the tuned encoder
on the train split's last validation slice and on the bank's test split; setup merges the committed adapter into
``models/e5-small-tuned`` (knowledge/adapter.py).

A second stage (``--init DIR``) continues from an earlier adapter: hard negatives are re-mined with that adapted
encoder (its own top-5 confusions), and ``--q2q-weight`` adds a question-to-question InfoNCE term (another train
question of the same procedure is the positive, the batch's other procedures' questions the negatives), so the
bank's own questions, which the index embeds as queries and lets vote, sit closer to their siblings' wordings.

Usage: python scripts/tune_encoder.py [--epochs 1] [--rank 8] [--max-pairs N] [--out knowledge/data/encoder]
       python scripts/tune_encoder.py --init DIR --epochs 0.6 --lr 1.5e-4 --q2q-weight 0.5
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from knowledge import adapter  # noqa: E402

SEED = 20261203
SCALE = 20.0  # inverse temperature of the InfoNCE loss


def log(message: str) -> None:
    print(f"[tune_encoder] {message}", flush=True)


def passage_of(entry) -> str:
    """The passage the index embeds first for an entry (its name and aliases, with diacritics)."""
    return entry.dense_texts()[0]


def load_data(index_dir: Path):
    """(train questions as embedded, their entry numbers, entries, test questions, test entry numbers)."""
    from knowledge.bank import load_bank
    from knowledge.index import entries_from_store
    from knowledge.search import bank_text_function

    entries = [e for e in entries_from_store() if e.kind == "procedure"]
    number = {e.code: i for i, e in enumerate(entries)}
    text = bank_text_function(index_dir)
    out = {}
    for split in ("train", "test"):
        questions = [q for q in load_bank(splits=(split,)) if q.answerable and q.code in number]
        out[split] = ([text(q.q) for q in questions], np.array([number[q.code] for q in questions]))
    return entries, out


class LoRALinear:
    """Factory for a LoRA-wrapped nn.Linear (built lazily so importing this script needs no torch)."""

    @staticmethod
    def wrap(linear, rank: int, alpha: float):
        import torch
        from torch import nn

        class _LoRA(nn.Module):
            def __init__(self, base: nn.Linear) -> None:
                super().__init__()
                self.base = base
                for p in self.base.parameters():
                    p.requires_grad_(False)
                self.A = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
                self.B = nn.Parameter(torch.zeros(base.out_features, rank))
                self.scale = alpha / rank

            def forward(self, x):
                return self.base(x) + (x @ self.A.t() @ self.B.t()) * self.scale

        return _LoRA(linear)


def attach_lora(model, rank: int, alpha: float) -> dict:
    """Freeze the model and wrap every target matrix; returns ``"<layer>.<target>" -> wrapped module``."""
    for p in model.parameters():
        p.requires_grad_(False)
    bert = model[0].auto_model
    wrapped = {}
    for i, layer in enumerate(bert.encoder.layer):
        for target, path in adapter.TARGETS.items():
            parent_path, _, attr = path.rpartition(".")
            parent = layer.get_submodule(parent_path)
            module = LoRALinear.wrap(getattr(parent, attr), rank, alpha)
            setattr(parent, attr, module)
            wrapped[f"{i}.{target}"] = module
    return wrapped


def encode(model, texts, prefix: str, batch_size: int = 64) -> np.ndarray:
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            features = model.preprocess([prefix + texts[i] for i in rows])
            out[rows] = model(features)["sentence_embedding"].numpy()
    return out


def load_adapter_into(wrapped: dict, directory: Path, rank: int, alpha: float) -> dict:
    """Copy an earlier adapter's A / B matrices into the wrapped modules; returns that adapter's metadata."""
    import torch

    meta = adapter.read_meta(directory)
    if int(meta["rank"]) != rank or float(meta["alpha"]) != alpha:
        raise ValueError(f"--init adapter has rank {meta['rank']} / alpha {meta['alpha']}, not {rank} / {alpha}")
    with np.load(adapter.adapter_path(directory)) as data:
        if sorted(data.files) != sorted(f"{key}.{m}" for key in wrapped for m in ("A", "B")):
            raise ValueError(f"--init adapter in {directory} does not fit this model's targets")
        with torch.no_grad():
            for key, module in wrapped.items():
                module.A.copy_(torch.from_numpy(data[key + ".A"].astype(np.float32)))
                module.B.copy_(torch.from_numpy(data[key + ".B"].astype(np.float32)))
    return meta


def q2q_partners(targets: np.ndarray, rng: random.Random) -> list:
    """For each train question, another train question of the same procedure (None when it has none)."""
    rows_of = defaultdict(list)
    for row, target in enumerate(targets):
        rows_of[int(target)].append(row)
    out = []
    for row, target in enumerate(targets):
        others = [r for r in rows_of[int(target)] if r != row]
        out.append(rng.choice(others) if others else None)
    return out


def dense_report(q_vectors: np.ndarray, targets: np.ndarray, p_vectors: np.ndarray) -> dict:
    scores = q_vectors @ p_vectors.T
    right = scores[np.arange(len(targets)), targets]
    rank = (scores > right[:, None]).sum(axis=1)
    return {"n": int(len(targets)), "hit@1": round(float((rank == 0).mean()), 4),
            "hit@3": round(float((rank < 3).mean()), 4), "mrr": round(float((1.0 / (rank + 1)).mean()), 4)}


def hard_negatives(entries, q_vectors, targets, p_vectors, rng: random.Random) -> list:
    """One hard negative passage per question: a family sibling when there is one (half the time when the
    untuned encoder also has close confusions), else a top-5 wrong passage of the untuned encoder."""
    family = defaultdict(list)
    for i, e in enumerate(entries):
        family[e.family or e.code].append(i)
    scores = q_vectors @ p_vectors.T
    scores[np.arange(len(targets)), targets] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :5]
    out = []
    for row, target in enumerate(targets):
        siblings = [j for j in family[entries[target].family or entries[target].code] if j != target]
        if siblings and rng.random() < 0.5:
            out.append(rng.choice(siblings))
        else:
            out.append(int(rng.choice(list(top[row]))))
    return out


def batches(targets: np.ndarray, batch_size: int, rng: random.Random) -> list:
    """Shuffled batches in which no procedure appears twice (a second question would be a false negative)."""
    order = list(range(len(targets)))
    rng.shuffle(order)
    full, open_batches = [], []  # open: (rows, procedures)
    for row in order:
        slot = next((b for b in open_batches if targets[row] not in b[1]), None)
        if slot is None:
            slot = ([], set())
            open_batches.append(slot)
        slot[0].append(row)
        slot[1].add(targets[row])
        if len(slot[0]) == batch_size:
            full.append(slot[0])
            open_batches.remove(slot)
    full.extend(rows for rows, _ in open_batches if len(rows) >= batch_size // 2)
    return full


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=REPO_ROOT / "models" / "kb-index",
                        help="built index (only its diacritic restorer is used, to embed questions like the searcher)")
    parser.add_argument("--base", type=Path, default=REPO_ROOT / "models" / "e5-small-st")
    parser.add_argument("--out", type=Path, default=adapter.ADAPTER_DIR)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=64, help="tokens per text while training")
    parser.add_argument("--max-pairs", type=int, default=0, help="use only the first N shuffled pairs (smoke runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from this adapter folder (second stage); negatives re-mined with it")
    parser.add_argument("--q2q-weight", type=float, default=0.0,
                        help="weight of the question-to-question InfoNCE term (0: question -> passage only)")
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    started = time.time()
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)

    entries, data = load_data(args.index_dir)
    train_q, train_t = data["train"]
    test_q, test_t = data["test"]
    passages = [passage_of(e) for e in entries]
    log(f"{len(train_q)} train pairs, {len(test_q)} test questions, {len(passages)} procedures")

    model = SentenceTransformer(str(args.base), device="cpu", local_files_only=True)
    model.float()
    model.max_seq_length = args.max_len
    wrapped = attach_lora(model, args.rank, args.alpha)  # B = 0: the untuned encoder until trained or loaded
    init_meta, init_digest = None, None
    if args.init:
        init_meta = load_adapter_into(wrapped, args.init, args.rank, args.alpha)
        init_digest = adapter.adapter_digest(args.init)  # before --out (maybe the same folder) is rewritten
        log(f"continuing from the adapter in {args.init}")
    t0 = time.time()
    start_p = encode(model, passages, "passage: ")
    start_train_q = encode(model, train_q, "query: ")
    start_test_q = encode(model, test_q, "query: ")
    log(f"starting encodings in {time.time() - t0:.0f} s")
    start = {"train": dense_report(start_train_q, train_t, start_p),
             "test": dense_report(start_test_q, test_t, start_p)}
    log(f"{'--init' if args.init else 'untuned'} dense-only: {json.dumps(start)}")
    if init_meta:
        # The untuned encoder on today's test split (the low-rank updates off for a moment), so every row compares.
        scales = {name: module.scale for name, module in wrapped.items()}
        for module in wrapped.values():
            module.scale = 0.0
        untuned_p = encode(model, passages, "passage: ")
        before = {"test": dense_report(encode(model, test_q, "query: "), test_t, untuned_p)}
        for name, module in wrapped.items():
            module.scale = scales[name]
        log(f"untuned dense-only: {json.dumps(before)}")
    else:
        before = start
    negatives = hard_negatives(entries, start_train_q, train_t, start_p, rng)
    partners = q2q_partners(train_t, random.Random(SEED + 1))  # own stream: the first stage's draws stay as they were

    params = [p for m in wrapped.values() for p in (m.A, m.B)]
    log(f"trainable parameters: {sum(p.numel() for p in params):,}")
    plan = []
    for epoch in range(math.ceil(args.epochs)):
        plan.extend(batches(train_t, args.batch_size, rng))
    plan = plan[: int(len(plan) * args.epochs / math.ceil(args.epochs))]
    if args.max_pairs:
        plan = plan[: max(1, args.max_pairs // args.batch_size)]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    warmup = max(1, len(plan) // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup))))
    model.train()
    t0 = time.time()
    losses = []
    for step, rows in enumerate(plan):
        queries = ["query: " + train_q[r] for r in rows]
        docs = ["passage: " + passages[train_t[r]] for r in rows]
        docs += ["passage: " + passages[negatives[r]] for r in rows]
        q = model(model.preprocess(queries))["sentence_embedding"]
        d = model(model.preprocess(docs))["sentence_embedding"]
        scores = q @ d.t() * SCALE
        # A hard negative that is another row's positive must not count against that row.
        doc_targets = torch.tensor([int(train_t[r]) for r in rows] + [negatives[r] for r in rows])
        own = torch.tensor([int(train_t[r]) for r in rows])
        clash = doc_targets[None, :] == own[:, None]
        clash[torch.arange(len(rows)), torch.arange(len(rows))] = False
        scores = scores.masked_fill(clash, float("-inf"))
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(rows)))
        # Batches hold one question per procedure, so the other rows' partners are true negatives.
        paired = [i for i, r in enumerate(rows) if partners[r] is not None] if args.q2q_weight > 0 else []
        if len(paired) > 1:
            mates = ["query: " + train_q[partners[rows[i]]] for i in paired]
            mates = model(model.preprocess(mates))["sentence_embedding"]
            q2q = q[paired] @ mates.t() * SCALE
            loss = loss + args.q2q_weight * torch.nn.functional.cross_entropy(q2q, torch.arange(len(paired)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % 25 == 0 or step == len(plan) - 1:
            log(f"step {step + 1}/{len(plan)} loss {np.mean(losses[-25:]):.4f} ({time.time() - t0:.0f} s)")
    train_seconds = time.time() - t0

    model.eval()
    tuned_p = encode(model, passages, "passage: ")
    after = {"train": dense_report(encode(model, train_q, "query: "), train_t, tuned_p),
             "test": dense_report(encode(model, test_q, "query: "), test_t, tuned_p)}
    log(f"tuned dense-only: {json.dumps(after)}")

    args.out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for key, module in wrapped.items():
        arrays[key + ".A"] = module.A.detach().numpy().astype(np.float16)
        arrays[key + ".B"] = module.B.detach().numpy().astype(np.float16)
    np.savez_compressed(args.out / adapter.ADAPTER_FILE, **arrays)
    meta = {
        "base": json.loads((args.base / "build_stamp.json").read_text(encoding="utf-8")),
        "rank": args.rank, "alpha": args.alpha, "targets": sorted(adapter.TARGETS),
        "seed": SEED, "lr": args.lr, "batch_size": args.batch_size, "max_len": args.max_len,
        "epochs": args.epochs, "steps": len(plan), "train_pairs": len(train_q),
        "hard_negatives": "family sibling (p=0.5) else top-5 confusion of the "
                          + ("--init" if args.init else "untuned") + " encoder",
        "loss_scale": SCALE, "q2q_weight": args.q2q_weight,
        "train_seconds": round(train_seconds), "total_seconds": round(time.time() - started),
        "dense_only": {"untuned": before, **({"init": start} if args.init else {}), "tuned": after},
        "final_loss": round(float(np.mean(losses[-50:])), 4),
    }
    if init_meta:
        # The earlier stages' own records, nested, so the file says how to redo every stage.
        meta["init"] = {"digest": init_digest, **{k: v for k, v in init_meta.items() if k != "base"}}
    (args.out / adapter.META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"adapter written to {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
