"""scripts/teencode_gaps.py: which words of a question neither the knowledge base nor the teencode table knows."""

from __future__ import annotations

import pytest

from scripts.teencode_gaps import gaps, is_known, is_syllable, kb_vocabulary


@pytest.mark.parametrize("word", ["tuc", "nghieng", "khuya", "gì", "giấy", "quyền", "thủ", "a", "oan"])
def test_syllables(word):
    assert is_syllable(word)


@pytest.mark.parametrize("word", ["ko", "dc", "ntn", "bjo", "cj", "ngi", "ka", "hok", "tncn", "gp", "j"])
def test_not_syllables(word):
    assert not is_syllable(word)


RECORDS = [["thủ", "tục", "cấp", "giấy", "phép"], ["thủ", "tục", "cấp", "lại", "giấy", "phép"], ["mùn"]]


def test_vocabulary_keeps_words_seen_often_enough_and_spoken_syllables():
    written, folded = kb_vocabulary(RECORDS, min_count=2, conversation=[["ko", "biết", "đc", "ạ"]])
    assert {"thủ", "tục", "giấy", "phép"} <= written and "mùn" not in written and "lại" not in written
    assert {"thu", "tuc", "giay", "phep"} <= folded and "mun" not in folded
    # Conversation adds accented syllables only, not shorthand.
    assert {"biết", "ạ"} <= written and not {"ko", "đc"} & written


def test_known_words_as_written_or_folded():
    written, folded = kb_vocabulary(RECORDS, min_count=1)
    table = {"gp": "giấy phép"}
    assert is_known("tuc", written, folded, table)  # the tone left out: not a gap
    assert is_known("thủ", written, folded, table) and is_known("gp", written, folded, table)
    assert not is_known("mún", written, folded, table)  # accented: must occur as written ("mùn" does)
    assert not is_known("xd", written, folded, table)


def test_gaps_count_unknown_words_with_an_example_and_the_search_initialism():
    written, folded = kb_vocabulary(RECORDS, min_count=1)
    questions = ["cấp lại gp xd 2024 ạ", "gp xd hết hạn"]
    unknown, total, example, expanded = gaps(questions, written, folded, {"gp": "giấy phép"},
                                             {"XD": "xây dựng"})
    assert total == 9  # "2024" is no word
    assert unknown == {"xd": 2, "ạ": 1, "hết": 1, "hạn": 1}
    assert example["xd"] == "cấp lại gp xd 2024 ạ" and expanded == {"xd": "xây dựng"}
