"""data/nlu/procedures_bank.yml: generated from the question bank's train split, reproducibly, never from test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("nlu_from_bank", ROOT / "scripts" / "nlu_from_bank.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(script):
    return script.nlu_examples([script.OUT])[script.INTENT]


def test_committed_file_is_what_the_script_writes(script, capsys):
    assert script.main(["--check"]) == 0, capsys.readouterr().err


def test_examples_come_from_train_families_only(generated):
    from knowledge.bank import load_bank

    bank = {" ".join(q.q.split()): q for q in load_bank(splits=("train", "test")) if q.answerable}
    assert len(generated) >= 400
    assert all(text in bank for text in generated)
    assert {bank[text].split for text in generated} == {"train"}
    assert len({bank[text].family for text in generated}) >= 300
    assert {bank[text].style for text in generated} == {"story", "short", "no_diacritics", "teencode", "aspect",
                                                        "formal", "abbrev", "english"}


def test_no_example_carries_another_route_s_words(generated):
    from core.routing import is_feedback_request, is_notification_request, is_status_request

    assert [t for t in generated if is_status_request(t) or is_feedback_request(t) or is_notification_request(t)] == []


def test_no_example_is_near_a_held_out_sentence(script, generated):
    from knowledge.bank import jaccard, word_set

    held_out = [word_set(t) for texts in script.nlu_examples(sorted(script.HOLDOUT_DIR.glob("*.yml"))).values()
                for t in texts]
    close = [t for t in generated if any(jaccard(word_set(t), h) >= script.NEAR for h in held_out)]
    assert close == []


def test_aspect_words_are_annotated_longest_first_without_overlap(script):
    surfaces = ["giấy tờ gì", "giấy tờ", "lệ phí", "phí", "ở đâu", "bao lâu"]
    assert script.annotate("Làm hộ chiếu cần giấy tờ gì, lệ phí bao nhiêu, nộp Ở ĐÂU?", surfaces) == (
        "Làm hộ chiếu cần [giấy tờ gì](aspect), [lệ phí](aspect) bao nhiêu, nộp [Ở ĐÂU](aspect)?")
    assert script.annotate("phíp bảo lãnh", surfaces) == "phíp bảo lãnh"
    assert script.example_text("nộp [ở đâu](aspect) vậy") == "nộp ở đâu vậy"
