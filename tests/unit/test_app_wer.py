"""The word error rate that bench/wer.py ranks the speech recognisers by."""

from __future__ import annotations

import pytest
from bench.wer import word_error_rate, word_errors, words
from hypothesis import given
from hypothesis import strategies as st

SENTENCE = "please remind me to buy green tea tomorrow morning"
word_lists = st.lists(st.sampled_from(["tea", "green", "buy", "me", "a"]), max_size=12)


def test_words_ignore_case_and_punctuation() -> None:
    assert words("Please, remind ME to buy green-tea!") == [
        "please",
        "remind",
        "me",
        "to",
        "buy",
        "green",
        "tea",
    ]
    assert words("I\u2019d don't") == ["i'd", "don't"]


def test_the_issue_s_pocketsphinx_transcript() -> None:
    heard = "please remind i agree the morning research on glee club"
    # 9 reference words: please remind [me→i] [to→agree] [buy→the] [green→morning]
    # [tea→research] [tomorrow→on] [morning→glee] +club: 7 substitutions, 1 insertion.
    assert word_errors(words(SENTENCE), words(heard)) == 8
    assert word_error_rate([(SENTENCE, heard)]) == pytest.approx(8 / 9)


def test_substitution_deletion_insertion_count_one_each() -> None:
    assert word_errors(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert word_errors(["a", "b", "c"], ["a", "c"]) == 1
    assert word_errors(["a", "b", "c"], ["a", "b", "b", "c"]) == 1
    assert word_errors(["a", "b"], []) == 2 and word_errors([], ["a", "b"]) == 2


def test_the_rate_pools_words_over_sentences() -> None:
    pairs = [("one two three four", "one two three four"), ("five six", "five")]
    assert word_error_rate(pairs) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([("", "anything")])


@given(word_lists, word_lists, word_lists)
def test_word_errors_is_a_distance(a: list[str], b: list[str], c: list[str]) -> None:
    assert word_errors(a, a) == 0
    assert word_errors(a, b) == word_errors(b, a)
    assert abs(len(a) - len(b)) <= word_errors(a, b) <= max(len(a), len(b))
    assert word_errors(a, c) <= word_errors(a, b) + word_errors(b, c)
