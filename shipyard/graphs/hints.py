"""What a failed case's returned value lacks, in words a small model can act on.

`slugify(' Hi! ') returned '-hi-', expected 'hi'` leaves a 0.5B model to find the
difference itself, and it usually resends the same code. Code can often name it: extra
characters at the ends, a repeated separator, letter case, order, duplicates, an off-by-one.
Only differences code is sure of are named; otherwise there is no hint.
"""

from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["hint"]


def hint(got: str, expected: str) -> str:
    """A short clause ("extra '-' at the start and the end") or ''."""
    try:
        g, e = ast.literal_eval(got), ast.literal_eval(expected)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ""
    if isinstance(g, str) and isinstance(e, str):
        return _text(g, e)
    if isinstance(g, list | tuple) and isinstance(e, list | tuple):
        return _sequence(list(g), list(e))
    if _number(g) and _number(e) and g != e:
        return "off by one" if abs(g - e) == 1 else ""
    if type(g) is not type(e) and not (_number(g) and _number(e)):
        return f"returns {_a(type(g).__name__)}, expected {_a(type(e).__name__)}"
    return ""


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _text(g: str, e: str) -> str:
    if g == e:
        return ""
    if e and (i := g.find(e)) >= 0:  # the expected text with something around it
        extra = [f"extra {part!r} at the {side}" for part, side in
                 ((g[:i], "start"), (g[i + len(e):], "end")) if part]
        return " and ".join(extra) + ": remove it"
    if g.lower() == e.lower():
        return "the letter case differs"
    runs = set(re.findall(r"(\W)\1+", g))
    if runs and re.sub(r"(\W)\1+", r"\1", g) == e:
        return "repeated " + ", ".join(map(repr, sorted(runs))) + " should be one"
    if g[::-1] == e:
        return "reversed"
    if sorted(g) == sorted(e):
        return "the right characters in the wrong order"
    return ""


def _sequence(g: list, e: list) -> str:
    try:
        if g[::-1] == e:
            return "reversed"
        if sorted(g) == sorted(e):
            return "the right elements in the wrong order"
        if sorted(set(g)) == sorted(set(e)):
            return "the right elements, but duplicates differ"
    except TypeError:
        return ""
    if len(g) != len(e):
        return f"{len(g)} elements, expected {len(e)}"
    return ""
