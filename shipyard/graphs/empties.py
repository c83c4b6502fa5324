"""The empty input: a call the cases rarely make and code often crashes on (issue 7).

Variants keep a sequence's length near the cases' own (graphs/variants.py), and an input a
candidate raises on is left out of agreement as outside the function's domain — so code
that indexes `numbers[0]` before its loop passes every example, agrees with itself, and
merges, though `rolling_max([])` crashes. HumanEval 9 at `7cef74c` (2026-12-07): both
greedy answers did that, merged, and `check()` calls `rolling_max([])`. An IndexError is
no answer the request gives: unless it says the input is non-empty (or a case expects the
raise), a candidate that raises IndexError on the empty value of an argument the cases
pass as a list, tuple or dict is sent back, told the call and the error. Checked offline
on the code merged by three benchmark runs (0-29, 70-99 twice; 47 merges): only 9's raised
IndexError on an empty argument; of the others one raised ValueError (left alone: a
function may reject input on purpose), and the reference itself raises on two (4
ZeroDivisionError, 21 ValueError), which this rule does not touch.
"""

from __future__ import annotations

import re

from ..agents.examples import canonical
from .variants import literal_call, render

__all__ = ["LIMIT", "crash", "empty_calls", "says_nonempty"]

LIMIT = 4  # empty calls per candidate: one sandboxed probe runs them all
_NONEMPTY = re.compile(r"non-?\s?empty|not\s+(?:be\s+)?empty|at\s+least\s+(?:one|1)\b",
                       re.IGNORECASE)


def says_nonempty(text: str) -> bool:
    """Whether the request or the code it targets says an input is never empty."""
    return bool(_NONEMPTY.search(text))


def empty_calls(calls: list[str], *, limit: int = LIMIT) -> list[str]:
    """Each call with one collection argument (a non-empty list, tuple or dict literal)
    made empty, one argument at a time, deduplicated, at most `limit`."""
    out: dict[str, str] = {}
    for call in calls:
        for empty in _emptied(call):
            out.setdefault(canonical(empty), empty)
    return list(out.values())[:limit]


def _emptied(call: str) -> list[str]:
    if (parsed := literal_call(call)) is None:
        return []
    func, values, names = parsed
    if any(names):  # positional arguments only, as the cases of a 0.5B model pass them
        return []
    # a collection, not a string: '' is rarely in the domain of a function that reads a
    # format — HumanEval 67 at 2dab826, `fruit_distribution("5 apples and 6 oranges", 19)`:
    # the greedy answer and three samples, right, were sent back for crashing on
    # `fruit_distribution('', 19)`, which check() never calls, and nothing merged
    return [render(func, [type(v)() if j == i else v for j, v in enumerate(values)], names)
            for i, v in enumerate(values) if isinstance(v, list | tuple | dict) and v]


def crash(call: str, got: str) -> str | None:
    """What the Implementer is told when `got` (the probe's outcome of the empty `call`)
    is an IndexError; None otherwise."""
    if not got.startswith("raised IndexError"):
        return None
    return (f"{call} {got}: an empty input is one the request allows, and indexing into it "
            f"crashes; handle it as the request implies (often an empty result)")
