"""Fault: the knowledge index is missing or damaged.

Each test works on its own COPY of a small index built with the hashing encoder (never models/kb-index).
Expected: the searcher refuses to load with a KnowledgeIndexError naming the bad file and `make build-index`;
the procedure action apologises with the hotline (never "no procedure found"); the health check reports the
same problem; `--if-stale` sees a damaged index as stale (so `make run` / `make build-index` rebuild it); and a
repaired index is used again without restarting anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil

import faiss
import numpy as np
import pytest
from rasa_sdk.executor import CollectingDispatcher

import settings as settings_module
from actions import actions_procedure
from actions.actions_procedure import ActionAnswerProcedure
from knowledge import search as search_module
from knowledge.encoder import HashingEncoder
from knowledge.index import KnowledgeIndexError, build_index, file_digests, is_stale
from knowledge.search import Searcher
from rasa_sdk_plugins.index_health import IndexHealth
from tests.fakes.knowledge import ENTRIES
from tests.fakes.responses import rendered, response_text
from tests.fakes.trackers import make_tracker

ENCODER = HashingEncoder(384)  # what KB_ENCODER=hashing:384 gives
SRC = "test-source"
QUESTION = "làm giấy khai sinh cần giấy tờ gì"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "kb-index"
    build_index(ENTRIES, ENCODER, out, src_hash=SRC)
    return out


@pytest.fixture
def index(pristine, tmp_path):
    """A fresh copy of the pristine index for one test to damage."""
    copy = tmp_path / "kb-index"
    shutil.copytree(pristine, copy)
    return copy


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_byte(path, at=-100):
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def forget_checksums(index):
    """Drop the recorded checksums, as in an index built before they existed (the loaders' checks still apply)."""
    config = json.loads((index / "config.json").read_text())
    config.pop("files")
    (index / "config.json").write_text(json.dumps(config))


def other_dimension(index):
    """dense.faiss swapped for a 64-dimension index with the same number of vectors."""
    old = faiss.read_index(str(index / "dense.faiss"))
    new = faiss.IndexFlatIP(64)
    new.add(np.eye(old.ntotal, 64, dtype=np.float32))
    faiss.write_index(new, str(index / "dense.faiss"))


def drop_last_entry(index):
    lines = (index / "entries.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (index / "entries.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")


DAMAGES = {
    # name: (damage, file named in the message, words of the problem)
    "folder missing": (lambda i: shutil.rmtree(i), "kb-index", "does not exist"),
    "config.json missing": (lambda i: (i / "config.json").unlink(), "config.json", "missing"),
    "config.json garbage": (lambda i: (i / "config.json").write_text("{\"index_version\": 1, \"mod"),
                            "config.json", "cannot be read"),
    "dense.faiss missing": (lambda i: (i / "dense.faiss").unlink(), "dense.faiss", "missing"),
    "dense.faiss truncated": (lambda i: truncate(i / "dense.faiss"), "dense.faiss", "truncated"),
    "dense.faiss altered": (lambda i: flip_byte(i / "dense.faiss"), "dense.faiss", "sha256"),
    "dense.faiss truncated, no checksums": (lambda i: (forget_checksums(i), truncate(i / "dense.faiss")),
                                            "dense.faiss", "cannot be read"),
    "wrong dimension, no checksums": (lambda i: (forget_checksums(i), other_dimension(i)),
                                      "dense.faiss", "dimension 64 but config.json says 384"),
    "entry lost, no checksums": (lambda i: (forget_checksums(i), drop_last_entry(i)),
                                 "entries.jsonl", "4 entries but config.json says 5"),
    "entries.jsonl garbage line": (lambda i: (forget_checksums(i), flip_byte(i / "entries.jsonl", at=2)),
                                   "entries.jsonl", "line 1"),
    "vectors.json truncated": (lambda i: (forget_checksums(i), truncate(i / "vectors.json")),
                               "vectors.json", "cannot be read"),
    "bm25 file missing": (lambda i: next((i / "bm25").glob("*.npy")).unlink(), "bm25", "missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_index_is_refused_with_the_file_and_the_fix(index, damage):
    spoil, file_name, words = DAMAGES[damage]
    spoil(index)
    with pytest.raises(KnowledgeIndexError) as raised:
        Searcher(index, ENCODER)
    message = str(raised.value)
    assert file_name in message and words in message and "make build-index" in message, message
    assert is_stale(index, SRC, ENCODER.name)  # `make build-index` / `make run` rebuild it
    health = IndexHealth(lambda: index).check()
    assert health["status"] == "error" and health["problem"] == message


def test_sound_index_loads_is_not_stale_and_is_healthy(index):
    assert Searcher(index, ENCODER).search(QUESTION).results[0].code == "1.001193"
    assert not is_stale(index, SRC, ENCODER.name)
    config = json.loads((index / "config.json").read_text())
    assert set(config["files"]) == set(file_digests(index)) >= {"dense.faiss", "vectors.json", "entries.jsonl"}
    health = IndexHealth(lambda: index).check()
    assert (health["status"], health["entries"], health["vectors"], health["checksums"]) == ("ok", 5, 10, True)


def test_encoder_of_another_dimension_is_refused(index):
    with pytest.raises(KnowledgeIndexError, match="built with encoder 'hashing-v1-384'.*'hashing-v1-64'"):
        Searcher(index, HashingEncoder(64))


def test_query_vector_of_another_dimension_is_an_error_not_an_empty_answer(index):
    searcher = Searcher(index, ENCODER)
    with pytest.raises(KnowledgeIndexError, match="dimension 384 but the encoder gives 64"):
        searcher.search(QUESTION, vector=np.ones((1, 64), dtype=np.float32))


def test_health_follows_a_repair_without_restart(index, pristine):
    health = IndexHealth(lambda: index)
    truncate(index / "dense.faiss")
    assert health.check()["status"] == "error"
    shutil.rmtree(index)
    shutil.copytree(pristine, index)  # what a rebuild does: a new folder in place
    assert health.check()["status"] == "ok"


# ---- the procedure action over the real wiring (KB_INDEX_DIR, KB_ENCODER, get_searcher) ------------------


@pytest.fixture
def wired(index, monkeypatch, tmp_path):
    """The settings point at the copy; the process-wide caches start empty and are emptied again after."""
    monkeypatch.setenv("KB_INDEX_DIR", str(index))
    monkeypatch.setenv("KB_ENCODER", "hashing:384")
    # Fusion thresholds for hashing vectors (knowledge/fusion.json is tuned for e5 cosines), as in test_index_search.
    fusion = tmp_path / "fusion.json"
    fusion.write_text(json.dumps({"dense_floor": 0.0, "dense_span": 1.0, "abstain_below": 0.3}))
    monkeypatch.setattr(search_module, "FUSION_FILE", fusion)
    caches = (settings_module.get_settings, search_module.get_searcher, actions_procedure.knowledge_service)
    for cache in caches:
        cache.cache_clear()
    yield index
    for cache in caches:
        cache.cache_clear()


def ask(text=QUESTION):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, "ask_procedure")
    asyncio.run(ActionAnswerProcedure().run(dispatcher, tracker, {}))
    return [m["text"] for m in rendered(dispatcher.messages)]


def test_action_apologises_with_the_hotline_then_answers_once_rebuilt(wired, pristine, caplog):
    truncate(wired / "dense.faiss")
    with caplog.at_level(logging.ERROR, logger="actions.actions_procedure"):
        texts = ask()
    hotline = settings_module.get_settings().support_hotline
    assert texts == [response_text("utter_procedure_error", hotline=hotline)]
    assert "sự cố" in texts[0] and hotline in texts[0]
    assert "chưa có thông tin" not in texts[0]  # not the "unknown procedure" answer
    assert "dense.faiss" in caplog.text and "make build-index" in caplog.text, caplog.text
    shutil.rmtree(wired)
    shutil.copytree(pristine, wired)  # rebuilt: the next question is answered, no restart
    texts = ask()
    assert "Đăng ký khai sinh" in texts[0] and "Giấy tờ phải nộp" in texts[0], texts


def test_action_with_no_index_at_all_apologises(wired, caplog):
    shutil.rmtree(wired)
    with caplog.at_level(logging.ERROR, logger="actions.actions_procedure"):
        texts = ask("đăng ký kết hôn mất bao lâu")
    assert texts == [response_text("utter_procedure_error", hotline=settings_module.get_settings().support_hotline)]
    assert "does not exist" in caplog.text and str(wired) in caplog.text
