"""Inputs near the acceptance cases' own, on which candidates can disagree (issue 7).

Two samples that pass the same documented examples can still be different functions:
HumanEval 65's examples (`circular_shift(12, 1) == "21"`) read the same whether the digits
shift left or right, and on HumanEval 60-89 four changes merged that passed every case
they were given. Run on a few inputs *near* those of the cases, the two disagree; with no
expected value, agreement is all these inputs decide (graphs/agreement.py).

Variants keep each argument's type and, as far as code can tell, its domain: an int keeps
its sign and stays small, a string keeps its characters (and a string of words its words,
first), a list its elements, a dict its items. An input a candidate rejects (it raises)
or takes too long on says nothing, and is not compared.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from ..agents.examples import canonical

__all__ = ["literal_call", "render", "variants"]

# Replayed on the candidates of five benchmark runs of HumanEval 70-99 (benchmarks/
# replay_g5.py, 2026-12-07): at 16, two runs of 75 stopped short of 10-12, where "three
# primes" and "three distinct primes" part (12 = 2 * 2 * 3), and merged wrong; at 24 they
# split, and so did two greedy answers of 72 that differ on `will_it_fly([3], 2)` — one of
# them wrong there, though the benchmark's check() never calls it. A candidate's variants
# run in one sandboxed process: eight calls more cost milliseconds.
LIMIT = 24


def variants(calls: list[str], *, limit: int = LIMIT) -> list[str]:
    """Up to `limit` calls near `calls`, one argument changed at a time, the first
    variant of every call before the second of any (so each case's input is varied)."""
    per_call = [list(_near(call)) for call in calls]
    seen = {canonical(c) for c in calls}
    out: list[str] = []
    for rank in range(max((len(v) for v in per_call), default=0)):
        for near in per_call:
            if rank < len(near) and (key := canonical(near[rank])) not in seen:
                seen.add(key)
                out.append(near[rank])
                if len(out) >= limit:
                    return out
    return out


def literal_call(call: str) -> tuple[str, list[Any], list[str | None]] | None:
    """(the function as written, its argument values, their keyword names or None for a
    positional one) of a call whose every argument is a literal; None for anything else
    (an argument code cannot read, `**kwargs`, no call at all)."""
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
        return None
    values: list[Any] = []
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        try:
            values.append(ast.literal_eval(arg))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    names = [None] * len(node.args) + [k.arg for k in node.keywords]
    if None in names[len(node.args):]:  # **kwargs in the call
        return None
    return ast.unparse(node.func), values, names


def _near(call: str) -> Iterator[str]:
    if (parsed := literal_call(call)) is None:
        return  # no variant of a call code cannot read
    func, values, names = parsed
    alternatives = [list(_mutations(v)) for v in values]
    for rank in range(max((len(a) for a in alternatives), default=0)):
        for i, alts in enumerate(alternatives):
            if rank < len(alts):
                args = [*values[:i], alts[rank], *values[i + 1:]]
                yield render(func, args, names)


def render(func: str, args: list[Any], names: list[str | None]) -> str:
    """The call of `func` with `args`, passed as `names` says (None: positionally)."""
    parts = [repr(a) if name is None else f"{name}={a!r}" for a, name in zip(args, names,
                                                                          strict=True)]
    return f"{func}({', '.join(parts)})"


def _mutations(value: Any) -> Iterator[Any]:
    """Values of the same type near `value`, in the same domain as far as code can tell."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        step = 1 if value >= 0 else -1
        yield value + step
        if abs(value) >= 2:
            yield value - step
        yield value + 3 * step
        if 10 <= abs(value) < 1000:  # one digit more: 12 -> 121 (HumanEval 65's digits)
            yield value * 10 + step
        yield from _spread(value)
        return
    if isinstance(value, float):
        yield value + (0.5 if value >= 0 else -0.5)
        yield value * 1.5
        return
    if isinstance(value, str):
        if len(words := value.split(" ")) >= 2 and all(words):
            # words, their order changed word by word: the letters of 'three one five'
            # reversed spell no number word (HumanEval 19, `sort_numbers`: every sample
            # raised KeyError on the letter-level variants and none could vote)
            yield from _sequence(words, " ".join)
        yield from _sequence(value, "".join)
        return
    if isinstance(value, list | tuple) and len(value) <= 50:
        kind = type(value)
        yield from _sequence(value, lambda items: kind(items))
        return
    if isinstance(value, dict) and len(value) <= 50:
        # a dict keeps its keys and values, in another order or one item fewer: with no
        # variant, any two candidates "agree" on nothing (HumanEval 95, `check_dict_case`)
        items = list(value.items())
        if len(items) >= 2:
            yield dict(items[::-1])
            yield dict(items[:-1])
            yield dict(items[1:])
        elif items:
            yield {}


def _spread(value: int) -> Iterator[int]:
    """Twice and half the value, then the small ints of its sign from 0 up: reached only
    when the cases have few inputs to vary (`variants` takes every call's first variants
    first). HumanEval 75's one example, `is_multiply_prime(30)`, varied to 29, 31, 33 and
    301 only, where "three distinct primes" and "three primes" read alike; two samples of
    the first reading agreed and merged wrong. On 8 (= 2 * 2 * 2) they part. Replayed on the
    candidates of 226 benchmark runs' ledgers (HumanEval 0-99, 2026-12-05/06), this turned
    that merge into a block and changed no other decision."""
    sign = 1 if value >= 0 else -1
    yield from (v for v in (value * 2, sign * (abs(value) // 2)) if v != value)
    yield from range(0, 13 * sign, sign)


def _sequence(value: Any, make: Any) -> Iterator[Any]:
    items = list(value)
    if len(items) >= 2:
        yield make(items[::-1])
        yield make(items[1:] + items[:1])
        if len(items) >= 3:
            # two neighbours swapped, 'xyy' -> 'yxy': a repeat one apart, not side by side
            # (HumanEval 80, `is_happy`: a sample that never compared s[i] with s[i + 2]
            # agreed with a right one on every other variant, and merged)
            mid = len(items) // 2
            yield make(items[:mid - 1] + [items[mid], items[mid - 1]] + items[mid + 1:])
        yield make(items[:-1])
    if items:
        yield make(items + items[-1:])
        mid = len(items) // 2
        yield make(items[:mid] + items[mid + 1:] + items[mid:mid + 1])
