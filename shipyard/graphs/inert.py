"""Code whose result does not depend on its input (issue 7).

Without a documented example, the Test Engineer's proposed cases are the only judge of a
candidate, and a 0.5B model's cases can be wrong in a way code that answers the same thing
for every call passes: HumanEval 41 at `2197e49` (2026-12-08), `car_race_collision(n)`
with no example in its docstring. The cases said 0, 0, 0, 1, 2, 3 for n = 0…5; two
samples of a fix round recursed to 0 for every n, passed the first three, agreed with
each other on every input near them, and the Test Engineer, asked the last three again,
answered 0 among other values. They were set aside and `return 0` in effect merged.

A candidate is inert when it returns one value — not a bool or None, which a right
predicate may well return on a handful of inputs — for every case while the cases expect
two or more different values, and for every input near them it answers too. A right
function that ignores its input over the cases and the two dozen inputs near them is
rare; such a candidate is sent back, told so, and never votes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..agents.examples import canonical

__all__ = ["MIN_CASES", "constant", "inert"]

MIN_CASES = 3  # fewer calls than this are too few to call a function constant
_PREDICATE = {"True", "False", "None"}


def constant(got: Sequence[str], expected: Sequence[str]) -> str | None:
    """The one value a candidate returned for every case (`got`, in the probe's words)
    while the cases (`expected`) differ among themselves; None otherwise."""
    values = {canonical(g) for g in got}
    if len(got) < MIN_CASES or len(values) != 1 or len({canonical(e) for e in expected}) < 2:
        return None
    value = got[0]
    return None if value.startswith("raised ") or value in _PREDICATE else value


def inert(func: str, value: str, expected: Sequence[str], near: Sequence[str]) -> str | None:
    """What the Implementer is told when the candidate also returns `value` on every input
    near the cases that it answers (`near`, in the probe's words); None when it answers
    one differently, or too few to say."""
    answered = [g for g in near if not g.startswith("raised ")]
    if len(answered) < MIN_CASES or any(canonical(g) != canonical(value) for g in answered):
        return None
    shown = ", ".join(sorted({canonical(e) for e in expected})[:4])
    return (f"{func} returns {value} for every input tried — the {len(expected)} cases, "
            f"which expect {shown}, and {len(answered)} inputs near them: its result does "
            f"not depend on its arguments; compute it from them as the request says")
