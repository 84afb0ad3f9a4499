"""End-to-end: a small seeded sample of the dialogue evaluation (scripts/eval_dialogue.py) against floors.

The questions come from the question bank's test split, so their own bank entries must not vote in the search:
this test runs its own stack (scripts/stack.py) with ``KB_BANK_SPLITS=train``. The shared ``stack`` fixture keeps
every split voting, as deployed, for the other tests. Size, seed and floors: tests/dialogue/sample.json (floors a
little below what the sample measured); the full evaluation is ``make eval-dialogue`` (reports/dialogue/).
"""

from __future__ import annotations

import json
import time

import pytest

from scripts.eval_dialogue import (
    HIDDEN_SPLITS,
    RestClient,
    check_floors,
    families_by_code,
    knowledge_health,
    print_table,
    run_all,
    sample_questions,
    summarize,
)
from scripts.stack import RestStack, StackError
from tests.e2e.conftest import MODEL, ROOT

SAMPLE_FILE = ROOT / "tests" / "dialogue" / "sample.json"


@pytest.fixture(scope="module")
def eval_stack(tmp_path_factory):
    """Action server + Rasa (REST channel) whose search hides the bank's test split."""
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (make test does it).")
    stack = RestStack(tmp_path_factory.mktemp("dialogue-eval"), extra_env={"KB_BANK_SPLITS": "train"})
    try:
        try:
            stack.start()
        except StackError as exc:
            pytest.fail(str(exc))
        yield stack
    finally:
        stack.shutdown()


def test_the_eval_stack_hides_the_test_split(eval_stack):
    health = knowledge_health(eval_stack.actions_url)
    assert health["status"] == "ok"
    assert health["bank_splits"] == HIDDEN_SPLITS == ["train"]


def test_dialogue_sample_meets_its_floors(eval_stack):
    floors = json.loads(SAMPLE_FILE.read_text(encoding="utf-8"))
    size = floors["_sample"]
    items = sample_questions(size["n"], size["unanswerable"], size["seed"])
    assert len(items) == size["n"] + size["unanswerable"]
    started = time.monotonic()
    rows = run_all(RestClient(eval_stack.rasa_url), items)
    summary = summarize(rows, families_by_code())
    print_table(summary)
    print(f"{len(rows)} conversations in {time.monotonic() - started:.0f} s")
    missed = check_floors(summary, floors)
    wrong = [(r["q"], r["code"], r["answered"] or r["answered_after_tap"]) for r in rows if r["outcome"] == "wrong"]
    assert not missed, f"floors of {SAMPLE_FILE.name} missed: {missed}; wrong answers: {wrong}"
