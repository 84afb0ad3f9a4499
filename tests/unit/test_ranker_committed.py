"""The committed ranker (knowledge/data/ranker/): current with the sources, installed only into a matching build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge import ranker
from knowledge.encoder import encoder_from_config
from knowledge.index import source_hash
from settings import get_settings


def _index_config(folder, source: str, model: str, built_at: str = "2026-12-07T03:00:00Z") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"source_hash": source, "model": model, "built_at": built_at}),
                                        encoding="utf-8")


def test_the_committed_ranker_was_trained_on_the_current_sources_and_encoder():
    # Fails after a change to the bank, the records, the tables or knowledge/ranker.py until `make train-ranker`
    # commits a new one: without it every fresh setup trains the ranker again (a quarter of an hour or more).
    meta = ranker.committed_meta()
    assert meta is not None, "knowledge/data/ranker/ is missing: run `make train-ranker`"
    model = encoder_from_config(get_settings().encoder).name
    assert meta["source_stamp"] == ranker.source_stamp_for(source_hash(), model), \
        "the committed ranker is stale: run `make train-ranker`"


def test_a_build_of_the_same_sources_installs_it_and_sees_it_current(tmp_path):
    meta = ranker.committed_meta()
    assert meta is not None
    model = encoder_from_config(get_settings().encoder).name
    index = tmp_path / "kb-index"
    _index_config(index, source_hash(), model)
    assert ranker.is_stale(index)
    assert ranker.install_committed(index) is True
    assert (index / "ranker.pkl").read_bytes() == (ranker.committed_dir() / "ranker.pkl").read_bytes()
    installed = json.loads((index / "ranker.json").read_text(encoding="utf-8"))
    assert installed["installed_from"] == "knowledge/data/ranker"
    assert installed["thresholds"] == meta["thresholds"]
    assert not ranker.is_stale(index)
    # A rebuild (new build time) makes the installed copy stale, as a trained one would be; installing again works.
    _index_config(index, source_hash(), model, built_at="2026-12-08T03:00:00Z")
    assert ranker.is_stale(index)
    assert ranker.install_committed(index) and not ranker.is_stale(index)


@pytest.mark.parametrize("source, model", [("other-sources", None), (None, "e5-small")])
def test_another_build_trains_its_own(tmp_path, source, model):
    index = tmp_path / "kb-index"
    _index_config(index, source or source_hash(), model or encoder_from_config(get_settings().encoder).name)
    assert ranker.install_committed(index) is False
    assert not (index / "ranker.pkl").exists()


def test_only_the_default_index_s_ranker_is_committed(tmp_path):
    result = subprocess.run([sys.executable, "-m", "knowledge", "train-ranker", "--index", str(tmp_path / "other"),
                             "--commit"], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "--commit chỉ dùng cho chỉ mục mặc định" in result.stderr
