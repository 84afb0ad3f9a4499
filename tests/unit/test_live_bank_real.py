"""An approved review-queue question is answered by the real searcher (models/kb-index, the configured encoder)
within the poll interval, without reloading it, in every replica; a malformed line changes nothing. (Its wording
is answered by the approved link itself; whether its neighbours are helped is measured by `make replay-review`.)

Needs the built index (`make setup` builds it; `make test` runs setup first): it fails, not skips, without it.
"""

from __future__ import annotations

import json
import time

import pytest

from knowledge.live_bank import LiveBank
from knowledge.search import Searcher

SUBDIVISION = "1.012784"  # Tách thửa hoặc hợp thửa đất
APPROVED = "mảnh đất bố mẹ cho muốn chia đôi cho hai anh em mỗi người một sổ"
POLL_S = 1.0
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def encoder():
    from knowledge.encoder import encoder_from_config
    from settings import get_settings

    settings = get_settings()
    if not (settings.index_dir / "config.json").exists():
        pytest.fail(f"{settings.index_dir} is not built: run `make setup` (or `python -m knowledge build`)")
    return encoder_from_config(settings.encoder)


def replica(encoder, tmp_path) -> Searcher:
    from settings import get_settings

    live = LiveBank(tmp_path / "approved.jsonl", tmp_path / "live", poll_s=POLL_S)
    return Searcher(get_settings().index_dir, encoder, live=live)


def answer_of(searcher: Searcher, question: str) -> tuple:
    response = searcher.search(question)
    return response.decision, response.results[0].code if response.results else None


def wait_for_answer(searcher: Searcher, question: str, expected: tuple) -> float:
    """Ask as a citizen would until the answer is ``expected``; seconds it took (fails after the deadline)."""
    started = time.monotonic()
    while (got := answer_of(searcher, question)) != expected:
        assert time.monotonic() - started < DEADLINE_S, f"still {got} after {DEADLINE_S:.0f} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_an_approved_wording_is_answered_live_by_every_replica(encoder, tmp_path, caplog):
    first, second = replica(encoder, tmp_path), replica(encoder, tmp_path)
    assert answer_of(first, APPROVED) != ("answer", SUBDIVISION)  # before: the bot does not answer it
    rows = len(first.bank[1])
    with open(tmp_path / "approved.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"code": "1.012784", "q": "tách sổ\n')  # malformed: skipped with a log line
        handle.write(json.dumps({"code": SUBDIVISION, "q": APPROVED, "style": "story", "approved_by": "minh",
                                 "approved_at": "2026-12-05T09:00:00+07:00"}, ensure_ascii=False) + "\n")
    took = wait_for_answer(first, APPROVED, ("answer", SUBDIVISION))
    assert took < POLL_S + 30  # the poll interval, then one embedding and the BM25 rebuild in the background
    assert wait_for_answer(second, APPROVED, ("answer", SUBDIVISION)) < POLL_S + 30
    for searcher in (first, second):
        assert len(searcher.bank[1]) == rows + 1
        assert searcher.bank[1][-1] == {"code": SUBDIVISION, "q": APPROVED, "split": "approved", "style": "story"}
    assert any("approved.jsonl:1 skipped: not JSON" in r.getMessage() for r in caplog.records)
    # The bank test split's evaluation never sees it.
    first.set_bank_splits(("train",))
    assert answer_of(first, APPROVED) != ("answer", SUBDIVISION)
