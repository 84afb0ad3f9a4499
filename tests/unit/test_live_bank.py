"""Approved review-queue questions join the search's question bank without a rebuild (knowledge/live_bank.py).

The mechanics on a five-entry index of hashing vectors (no model): the live part is written once and shared by
replicas, malformed lines are skipped with a log line, the ``approved`` split is honoured, a part of another
index is rewritten. tests/unit/test_live_bank_real.py runs the real index and encoder.
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

from knowledge.bank import Question
from knowledge.encoder import HashingEncoder
from knowledge.index import build_index
from knowledge.live_bank import LiveBank, LivePart, index_stamp, part_file, read_approved
from knowledge.search import FusionParams, Searcher, bank_text_function
from tests.fakes.knowledge import ENTRIES
from tests.fakes.live_bank_replica import CountingEncoder

RESIDENCE = "1.004222"  # Đăng ký thường trú
MARRIAGE = "1.000894"  # Đăng ký kết hôn
APPROVED = "về ở hẳn với nhà chồng thì khai báo cư trú thế nào"
PARAMS = FusionParams(dense_floor=0.0, dense_span=1.0, abstain_below=0.3)


@pytest.fixture
def index(tmp_path):
    bank = [Question(RESIDENCE, "chuyển hộ khẩu về nhà chồng ở xã khác", "story", "train", RESIDENCE, "b", 1),
            Question(MARRIAGE, "cưới vợ người nước ngoài làm giấy tờ gì", "story", "test", MARRIAGE, "b", 2)]
    out = tmp_path / "kb-index"
    build_index(ENTRIES, HashingEncoder(64), out, src_hash="abc", bank=bank, bank_text=bank_text_function(out))
    return out


def approve(path, code, question, by="minh"):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"code": code, "q": question, "style": "story", "approved_by": by,
                                 "approved_at": "2026-12-05T09:00:00+07:00"}, ensure_ascii=False) + "\n")


def replica(index, tmp_path, encoder=None, splits=None):
    live = LiveBank(tmp_path / "approved.jsonl", tmp_path / "live", poll_s=0.0)
    searcher = Searcher(index, encoder or HashingEncoder(64), PARAMS, bank_splits=splits, live=live)
    assert live.wait(30)
    return searcher, live


def vote_for(searcher, question, code):
    parts = searcher.score_parts(question)
    codes = [searcher.entries[i]["code"] for i in parts["cand"]]
    return float(parts["bank"][codes.index(code)]) if code in codes else 0.0


def test_an_approved_line_votes_in_every_replica_and_is_embedded_once(index, tmp_path):
    first_encoder, second_encoder = CountingEncoder(), CountingEncoder()
    first, first_live = replica(index, tmp_path, first_encoder)
    second, second_live = replica(index, tmp_path, second_encoder)
    assert len(first.bank[1]) == 2 and vote_for(first, APPROVED, RESIDENCE) < 0.99
    approve(tmp_path / "approved.jsonl", RESIDENCE, APPROVED)
    first_encoder.encoded.clear()
    assert first_live.refresh(first) == 1  # what a search's poll starts in the background
    assert first_encoder.encoded == [first.dense_text(APPROVED)]  # embedded as a bank question is
    # The BM25 is rebuilt from the tokens the index build wrote (no tokenising of the bank, nothing cached beside).
    assert (index / "bank_tokens.json").exists() and not list((tmp_path / "live").glob("bank_tokens.*"))
    assert first.bank[1][-1] == {"code": RESIDENCE, "q": APPROVED, "split": "approved", "style": "story"}
    assert vote_for(first, APPROVED, RESIDENCE) == pytest.approx(1.0, abs=1e-5)
    # Its BM25 row: the merged lexical index scores it like the bank's own questions.
    assert first.score_parts(APPROVED)["bank_lex"].max() == pytest.approx(1.0)
    second.search("đăng ký thường trú")  # the other replica's poll: reads the part, embeds nothing
    assert second_live.wait(30)
    assert second_encoder.encoded == [second.dense_text("đăng ký thường trú")]  # the search's own question only
    assert len(second.bank[1]) == 3 and vote_for(second, APPROVED, RESIDENCE) == pytest.approx(1.0, abs=1e-5)
    stored = LivePart.load(part_file(tmp_path / "live", index_stamp(first.config)), index_stamp(first.config))
    assert stored.keys() == [(RESIDENCE, APPROVED)] and stored.vectors.shape == (1, 64)


def test_replicas_in_separate_processes_embed_once_and_both_merge(index, tmp_path):
    """Two action-server replicas as two processes, merging the same new approvals at the same moment: the file
    lock lets one embed them; the other reads the persisted part; both banks hold them."""
    import subprocess
    import sys

    from tests.fakes.processes import ROOT

    approved, go = tmp_path / "approved.jsonl", tmp_path / "go"
    questions = [APPROVED, "lấy vợ rồi thì nhập khẩu về nhà vợ được không", "về quê chồng sống luôn thì đăng ký ở"]
    args = [sys.executable, "-m", "tests.fakes.live_bank_replica", str(index), str(approved), str(tmp_path / "live"),
            str(go)]
    replicas = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        assert [p.stdout.readline().strip() for p in replicas] == ["ready", "ready"]
        for question in questions:
            approve(approved, RESIDENCE, question)
        go.touch()
        results = [json.loads(p.stdout.readline()) for p in replicas]
    finally:
        for p in replicas:
            p.wait(timeout=60)
    assert sorted(r["embedded"] for r in results) == [0, 3]
    assert [r["approved_rows"] for r in results] == [[[RESIDENCE, q] for q in questions]] * 2


def test_malformed_and_invalid_lines_are_skipped_with_a_log_line(index, tmp_path, caplog):
    path = tmp_path / "approved.jsonl"
    approve(path, RESIDENCE, APPROVED)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"code": "1.004222", "q": "nhập khẩu cho con\n')  # cut short
        handle.write(json.dumps({"code": "9.999999", "q": "xin giấy phép nuôi chó", "style": "story"}) + "\n")
        handle.write(json.dumps({"code": RESIDENCE, "q": "   ", "style": "story"}) + "\n")
        handle.write("[1, 2]\n")
    approve(path, MARRIAGE, "lấy chồng Hàn Quốc cần làm những gì")
    with caplog.at_level(logging.WARNING, logger="knowledge.live_bank"):
        searcher, _ = replica(index, tmp_path)
    assert [(r["code"], r["q"]) for r in searcher.bank[1][2:]] == [
        (RESIDENCE, APPROVED), (MARRIAGE, "lấy chồng Hàn Quốc cần làm những gì")]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert [m.split(" skipped: ")[0].rsplit(":", 1)[1] for m in skipped] == ["2", "3", "4", "5"]
    assert "unknown procedure code '9.999999'" in skipped[1]
    assert searcher.search(APPROVED).results[0].code == RESIDENCE  # the search goes on


def test_a_line_still_being_written_waits_and_duplicates_count_once(tmp_path):
    path = tmp_path / "approved.jsonl"
    approve(path, RESIDENCE, APPROVED)
    approve(path, RESIDENCE, APPROVED, by="lan")  # approved twice: one row
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"code": "1.000894", "q": "lấy ch')
    assert read_approved(path, {RESIDENCE, MARRIAGE}) == [(RESIDENCE, APPROVED, "story")]


def test_approved_rows_vote_only_when_the_splits_name_them(index, tmp_path):
    approve(tmp_path / "approved.jsonl", RESIDENCE, APPROVED)
    evaluated, _ = replica(index, tmp_path, splits=("train",))  # the bank test split's evaluation
    assert evaluated.bank_active.tolist() == [True, False, False]
    assert vote_for(evaluated, APPROVED, RESIDENCE) < 0.99
    evaluated.set_bank_splits(("train", "approved"))
    assert evaluated.bank_active.tolist() == [True, False, True]
    assert vote_for(evaluated, APPROVED, RESIDENCE) == pytest.approx(1.0, abs=1e-5)
    # A caller excluding rows of the index's own bank (the ranker trainer) never excludes a live row.
    parts = evaluated.score_parts(APPROVED, exclude=np.array([True, False]))
    assert parts["bank"].max() == pytest.approx(1.0, abs=1e-5)


def test_a_part_stamped_for_another_index_is_rewritten(index, tmp_path):
    approve(tmp_path / "approved.jsonl", RESIDENCE, APPROVED)
    stale = LivePart("other-encoder|x|y|2", [{"code": RESIDENCE, "q": APPROVED, "split": "approved",
                                              "style": "story"}], np.zeros((1, 64), dtype=np.float32), [["x"]])
    (tmp_path / "live").mkdir()
    stamp = index_stamp(json.loads((index / "config.json").read_text(encoding="utf-8")))
    stale.save(part_file(tmp_path / "live", stamp))  # this build's file, another build's content
    encoder = CountingEncoder()
    searcher, _ = replica(index, tmp_path, encoder)
    assert encoder.encoded == [searcher.dense_text(APPROVED)]  # embedded again, for this index
    assert vote_for(searcher, APPROVED, RESIDENCE) == pytest.approx(1.0, abs=1e-5)


def test_the_poll_looks_at_the_files_at_most_every_interval(index, tmp_path):
    now = [100.0]
    live = LiveBank(tmp_path / "approved.jsonl", tmp_path / "live", poll_s=5.0, clock=lambda: now[0])
    searcher = Searcher(index, HashingEncoder(64), PARAMS, live=live)
    assert live.wait(30) and live.worker is None  # nothing approved: no refresh at all
    approve(tmp_path / "approved.jsonl", RESIDENCE, APPROVED)
    now[0] += 4.9
    searcher.search(APPROVED)
    assert live.worker is None and len(searcher.bank[1]) == 2
    now[0] += 0.2
    started = time.monotonic()
    searcher.search(APPROVED)  # starts the refresh in the background and answers at once
    assert live.worker is not None and live.wait(30)
    assert len(searcher.bank[1]) == 3 and time.monotonic() - started < 30
    worker = live.worker
    now[0] += 10
    searcher.search(APPROVED)  # nothing changed since: no new refresh
    assert live.worker is worker


def test_an_approved_wording_is_answered_with_its_procedure_and_a_contested_one_is_left_to_the_ranker(index, tmp_path):
    path = tmp_path / "approved.jsonl"
    approve(path, MARRIAGE, "về ở hẳn với nhà chồng thì làm giấy gì")  # linked to marriage by a supervisor
    searcher, live = replica(index, tmp_path)
    # The same wording with a phone number and other punctuation (the approved line is masked): the same key.
    response = searcher.search("Về ở hẳn với nhà chồng thì làm giấy gì? 0912345678")
    assert (response.decision, response.results[0].code, response.approved, response.confidence) == (
        "answer", MARRIAGE, True, 1.0)
    assert not searcher.search("về ở với nhà chồng").approved  # another wording: the ranker decides
    searcher.set_bank_splits(("train", "test"))  # approved rows not voting: no approved answer either
    assert not searcher.search("về ở hẳn với nhà chồng thì làm giấy gì").approved
    searcher.set_bank_splits(None)
    approve(path, RESIDENCE, "về ở hẳn với nhà chồng thì làm giấy gì")  # a second supervisor says residence
    assert live.refresh(searcher) == 2
    assert not searcher.search("về ở hẳn với nhà chồng thì làm giấy gì").approved
