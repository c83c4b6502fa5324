"""Number helpers."""

from __future__ import annotations

from collections.abc import Iterable


def clamp(value: float, low: float, high: float) -> float:
    """Limit `value` to the closed interval [low, high]."""
    if low > high:
        raise ValueError(f"low ({low}) must not be greater than high ({high})")
    return max(low, min(value, high))


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean of `values`; raises ValueError when there are none."""
    items = list(values)
    if not items:
        raise ValueError("mean() of an empty sequence")
    return sum(items) / len(items)


def percent(part: float, whole: float, digits: int = 1) -> float:
    """`part` as a percentage of `whole`, rounded to `digits` decimals."""
    if whole == 0:
        raise ValueError("whole must not be zero")
    return round(100 * part / whole, digits)
