import pytest

from textkit.numbers import clamp, mean, percent


@pytest.mark.parametrize(("value", "expected"), [(-5, 0), (5, 5), (15, 10)])
def test_clamp(value, expected):
    assert clamp(value, 0, 10) == expected


def test_clamp_rejects_inverted_bounds():
    with pytest.raises(ValueError):
        clamp(1, 10, 0)


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        mean([])


def test_percent_rounds():
    assert percent(1, 3) == 33.3
    assert percent(1, 3, digits=2) == 33.33


def test_percent_of_zero_whole_is_an_error():
    with pytest.raises(ValueError):
        percent(1, 0)
