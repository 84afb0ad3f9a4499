"""The encoder tuning script's pieces that decide what it learns: batches, question partners, a second stage's start."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from knowledge import adapter
from scripts.tune_encoder import batches, load_adapter_into, q2q_partners


def test_a_partner_is_another_question_of_the_same_procedure():
    targets = np.array([7, 3, 7, 5, 7, 3])
    partners = q2q_partners(targets, random.Random(1))
    assert partners[3] is None  # procedure 5 has one train question: nothing to pull it towards
    for row, mate in enumerate(partners):
        if mate is not None:
            assert mate != row and targets[mate] == targets[row]
    assert partners[1] == 5 and partners[5] == 1
    assert partners[0] in (2, 4) and partners[2] in (0, 4) and partners[4] in (0, 2)


def test_a_batch_never_holds_two_questions_of_one_procedure():
    targets = np.array([i % 10 for i in range(200)])
    plan = batches(targets, 8, random.Random(2))
    assert sum(len(rows) for rows in plan) >= 160
    for rows in plan:
        assert len({int(targets[r]) for r in rows}) == len(rows)


class _Module:
    def __init__(self, torch, rank: int, n_in: int, n_out: int) -> None:
        self.A = torch.nn.Parameter(torch.zeros(rank, n_in))
        self.B = torch.nn.Parameter(torch.zeros(n_out, rank))


def _write_adapter(directory, arrays, rank=2, alpha=4.0):
    directory.mkdir()
    np.savez_compressed(directory / adapter.ADAPTER_FILE, **arrays)
    (directory / adapter.META_FILE).write_text(json.dumps({"rank": rank, "alpha": alpha}), encoding="utf-8")


def test_a_second_stage_starts_from_the_earlier_adapter_and_refuses_one_that_does_not_fit(tmp_path):
    torch = pytest.importorskip("torch")
    wrapped = {"0.q": _Module(torch, 2, 3, 4), "0.fi": _Module(torch, 2, 3, 5)}
    rng = np.random.default_rng(3)
    arrays = {"0.q.A": rng.normal(size=(2, 3)), "0.q.B": rng.normal(size=(4, 2)),
              "0.fi.A": rng.normal(size=(2, 3)), "0.fi.B": rng.normal(size=(5, 2))}
    arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    _write_adapter(tmp_path / "stage1", arrays)
    meta = load_adapter_into(wrapped, tmp_path / "stage1", rank=2, alpha=4.0)
    assert meta == {"rank": 2, "alpha": 4.0}
    for key, module in wrapped.items():
        assert np.array_equal(module.A.detach().numpy(), arrays[key + ".A"].astype(np.float32))
        assert np.array_equal(module.B.detach().numpy(), arrays[key + ".B"].astype(np.float32))

    with pytest.raises(ValueError, match="rank 2 / alpha 4.0, not 8 / 16.0"):
        load_adapter_into(wrapped, tmp_path / "stage1", rank=8, alpha=16.0)
    _write_adapter(tmp_path / "other", {k: v for k, v in arrays.items() if not k.startswith("0.fi")})
    with pytest.raises(ValueError, match="does not fit"):
        load_adapter_into(wrapped, tmp_path / "other", rank=2, alpha=4.0)
