"""Cases whose call must raise: `median([]) raises ValueError`.

A request says "raise ValueError when values is empty"; a docstring shows a doctest whose
output is a traceback. Such a case has no value to compare, so its `expected` is written
`raises ValueError` (never a Python literal), the probe passes it when the call raises that
exception or a subclass of it (runtime/probe.py), and the acceptance test file asserts it
with `pytest.raises` (examples.render_tests). Without this, the Test Engineer could only
write such a case as a value (`median([]) == None`, 2026-12-07), a right candidate failed
it, and the line that raises stayed covered by no test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["RAISES", "after_call", "from_traceback", "raised", "same_raise", "written"]

RAISES = "raises "
# an exception class as a request names it: ValueError, json.JSONDecodeError, MyError
_NAME = r"([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt)|StopIteration)"
_SAID = re.compile(rf"\s*(?:should|must|will|would)?\s*(?:raises?|throws?)\s+(?:an?\s+)?"
                   rf"`?{_NAME}`?\b")
_ALONE = re.compile(rf"\s*(?:raise[sd]?\s+|throws?\s+)?`?{_NAME}`?(?:\s*(?:\(.*\))?\s*)?"
                    rf"(?:[:.].*)?\s*\Z", re.DOTALL)


def raised(expected: str) -> str | None:
    """The exception a case's `expected` says its call raises (the class name as written,
    dotted or not), or None for a value."""
    text = expected.strip()
    return (text.removeprefix(RAISES).strip() or None) if text.startswith(RAISES) else None


def same_raise(a: str, b: str) -> bool:
    """Whether two answers both say the call raises, the same exception by its class name
    (`json.JSONDecodeError` is `JSONDecodeError`)."""
    x, y = raised(written(a) or ""), raised(written(b) or "")
    return x is not None and y is not None and x.rpartition(".")[2] == y.rpartition(".")[2]


def written(answer: str) -> str | None:
    """A Test Engineer's answer as a raise case (`raises ValueError`) when it names an
    exception and nothing else: "raises ValueError", "ValueError", "ValueError: empty",
    "ValueError()", or the probe's "raised ValueError: …". None for anything else, which
    is read as a value (a string is quoted: `'ValueError'`)."""
    m = _ALONE.match(answer)
    return RAISES + m.group(1) if m else None


def after_call(rest: str) -> str | None:
    """`raises X` when the text after an example's call says it raises ("median([])
    raises ValueError", "… should raise a ValueError"); None otherwise."""
    m = _SAID.match(rest)
    return RAISES + m.group(1) if m else None


def from_traceback(following: Sequence[str]) -> str | None:
    """`raises X` for a doctest whose output is a traceback: the lines after `>>> call`,
    from `Traceback (most recent call last):` to the `X: message` line that ends it."""
    if not following or not following[0].strip().startswith("Traceback (most recent call"):
        return None
    for line in following[1:12]:
        text = line.strip()
        if not text or text.startswith(">>>"):
            return None
        if m := re.match(rf"{_NAME}\s*(?::|\Z)", text):
            return RAISES + m.group(1)
    return None
