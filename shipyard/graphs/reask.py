"""A disputed case asked again: the Test Engineer's answer for that one call, sampled.

When the samples of the code that pass every documented example agree against a case the
Test Engineer proposed, one of the two is wrong, and agreement among the code samples
cannot say which: a 0.5B model can be wrong the same way twice (HumanEval 74: both
samples returned the second list on a tie the docstring gives to the first). The case is
asked again — the request and the function's stub, the call, never the disputing value
(shown two values, a small model picks by position) — up to ANSWERS times at a sampling
temperature, and kept only when every answer gives the value it proposed: the
dual-agreement idea of CodeT, counting the tests' side too. Asking stops at the first
answer that differs. A case kept this way is a test the code must pass; one answered
otherwise is set aside as before (graphs/disputes.py). Every asking is a ledger event,
`acceptance_case_reasked`, with the answers.

Why all of them: on HumanEval 70-99 (commit fb8a680) the samples disputed 22 proposed
cases. Asked five times each, offline, the Test Engineer gave its value back five times in
one, 74's tie, where it was right; four times of five in two where it was wrong (84's
`solve(0)`, 98's `count_upper`); at most once in the other 19, all wrong. A majority would
have kept two wrong cases and failed two correct changes. 22 cases is a small sample.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..agents import test_engineer
from ..agents.examples import canonical
from ..errors import ModelError, ModelOutputInvalid
from .acceptance import spelled

if TYPE_CHECKING:
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["ANSWERS", "Asker", "Reask", "differing", "same_value", "upheld"]

ANSWERS = 5
_TEMPERATURE = 0.8

Reask = Callable[[dict[str, Any]], list[str]]  # a proposed case -> the fresh answers


class Asker:
    """Asks each case once per attempt loop (later settlements reuse the answers), and
    knows which cases its answers upheld; without a stub to pose the call against (the
    functions live in several files), nothing is asked."""

    def __init__(self, n: Nodes, s: FeatureState, gw: Any, stub: tuple[str, str] | None, *,
                 strings: bool = False):
        self._n, self._s, self._gw, self._stub = n, s, gw, stub
        self._strings = strings  # the documented results are strings (acceptance.spelled)
        self._asked: dict[tuple[str, str], list[str]] = {}

    @property
    def upheld(self) -> set[tuple[str, str]]:
        """The (call, expected) of every case its answers upheld."""
        return {key for key, answers in self._asked.items()
                if upheld({"expected": key[1]}, answers)}

    @property
    def heard(self) -> dict[str, list[str]]:
        """Every answer this loop heard, by call (disputes.remember keeps them for later
        rounds)."""
        out: dict[str, list[str]] = {}
        for (call, _), answers in self._asked.items():
            out.setdefault(call, []).extend(answers)
        return out

    def __call__(self, case: dict[str, Any]) -> list[str]:
        key = (case["call"], case["expected"])
        if self._stub is None:
            return []
        if key not in self._asked:
            answers, error = _answers(self._gw, self._s["feature"], self._stub, case,
                                      spelled if self._strings else str)
            self._asked[key] = answers
            self._n.env.ledger.event(self._s["run_id"], "acceptance_case_reasked", gate="G5",
                                     call=case["call"], expected=case["expected"],
                                     answers=answers, upheld=upheld(case, answers),
                                     **({"error": error} if error else {}))
        return self._asked[key]


def _answers(gw: Any, feature: str, stub: tuple[str, str], case: dict[str, Any],
             read: Callable[[str], str]) -> tuple[list[str], str | None]:
    """The answers up to the first that differs from the case's, and why asking stopped
    early when the model failed: a second opinion that cannot be had leaves the case to
    the rule without it (the model's error is in the ledger)."""
    path, code = stub
    out: list[str] = []
    while len(out) < ANSWERS and differing(case, out) is None:
        try:
            out.append(read(test_engineer.ANSWER.run(
                gw, gate="G5", temperature=_TEMPERATURE, max_tokens=96, feature=feature,
                stub_path=path, stub_code=code, call=case["call"]).expected))
        except ModelOutputInvalid:
            out.append("")  # an answer that is no answer is not the case's value
        except ModelError as exc:
            return out, str(exc)[:300]
    return out, None


def upheld(case: dict[str, Any], answers: list[str]) -> bool:
    return len(answers) == ANSWERS and differing(case, answers) is None


def differing(case: dict[str, Any], answers: list[str]) -> str | None:
    """The first answer that is not the case's value; None when every one is."""
    return next((a for a in answers if not same_value(a, case["expected"])), None)


def same_value(a: str, b: str) -> bool:
    """Whether two answers denote the same value: as Python literals (`['a']` and `["a"]`
    do; `1` and `'1'` do not, nor `1` and `True`), a bare word as the string it spells (the model answers
    `db0db` for `'db0db'`), else as written, spaces aside; an empty answer never does."""
    x, y = _value(a), _value(b)
    # `==` as the acceptance test compares (12 and 12.0 agree), but True is no 1
    return x is not _NONE and y is not _NONE and x == y and \
        isinstance(x, bool) == isinstance(y, bool)


_NONE = object()


def _value(text: str) -> Any:
    text = text.strip()
    if not text:
        return _NONE
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text if text.isidentifier() or text.replace("-", "").isalnum() \
            else canonical(text)
