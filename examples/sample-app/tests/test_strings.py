import pytest

from textkit.strings import count_words, normalize_whitespace, truncate


def test_normalize_whitespace_collapses_and_trims():
    assert normalize_whitespace("  hello \n\t world  ") == "hello world"


def test_normalize_whitespace_of_blank_is_empty():
    assert normalize_whitespace(" \n ") == ""


def test_truncate_leaves_short_text_alone():
    assert truncate("short", 10) == "short"


def test_truncate_cuts_at_a_word_boundary():
    assert truncate("shipyard builds features", 12) == "shipyard..."


def test_truncate_without_spaces_cuts_hard():
    assert truncate("abcdefghij", 6) == "abc..."


def test_truncate_rejects_width_smaller_than_suffix():
    with pytest.raises(ValueError):
        truncate("text", 2)


def test_count_words():
    assert count_words("one two  three") == 3
    assert count_words("") == 0
