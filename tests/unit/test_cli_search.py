"""The knowledge CLI's stable JSON contract (build, search, batch search) on the real KB with fake vectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("cli") / "kb-index"
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "KB_INDEX_DIR": str(index_dir), "KB_ENCODER": "hashing:64"}
    built = cli(environ, "build", "--no-ranker")
    assert built.returncode == 0, built.stderr
    config = json.loads(built.stdout.strip().splitlines()[-1])
    assert config["entries"] >= 2642 and config["model"] == "hashing-v1-64"
    again = cli(environ, "build", "--if-stale", "--no-ranker")
    assert again.returncode == 0 and "up to date" in again.stdout
    return environ


def cli(environ, *args):
    return subprocess.run(
        [sys.executable, "-m", "knowledge", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600
    )


def test_search_json_contract(env):
    result = cli(env, "search", "đăng ký khai sinh", "--top-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["query", "abstain", "decision", "confidence", "results"]
    assert data["decision"] in ("answer", "clarify", "abstain") and isinstance(data["confidence"], float)
    assert data["query"] == "đăng ký khai sinh" and isinstance(data["abstain"], bool)
    assert len(data["results"]) == 3
    assert data["results"][0]["code"] == "1.001193"
    assert all(set(r) == {"code", "name", "score"} for r in data["results"])


def test_batch_search_adds_ids(env, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "a", "question": "đăng ký kết hôn"}\n\n{"id": 7, "question": "mất bao lâu?"}\n', encoding="utf-8"
    )
    result = cli(env, "search", "--batch", str(batch), "--json", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    assert lines[1]["abstain"] is True and lines[1]["results"] == []
    assert list(lines[0]) == ["id", "query", "abstain", "decision", "confidence", "results"]


def test_bad_batch_line_is_a_clear_error(env, tmp_path):
    batch = tmp_path / "bad.jsonl"
    batch.write_text("not json\n", encoding="utf-8")
    result = cli(env, "search", "--batch", str(batch), "--json")
    assert result.returncode == 2
    assert "line 1" in result.stderr and "Traceback" not in result.stderr


def test_missing_index_is_a_clear_error(tmp_path):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "KB_INDEX_DIR": str(tmp_path / "none"),
               "KB_ENCODER": "hashing:64"}
    result = cli(environ, "search", "đăng ký khai sinh", "--json")
    assert result.returncode == 2
    assert "python -m knowledge build" in result.stderr and "Traceback" not in result.stderr
