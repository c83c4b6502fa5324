"""A disputed case asked again: the Test Engineer's answer for that one call, sampled.

When the samples of the code that pass every documented example agree against a case the
Test Engineer proposed, one of the two is wrong, and agreement among the code samples
cannot say which: a 0.5B model can be wrong the same way twice (HumanEval 74: both
samples returned the second list on a tie the docstring gives to the first). The case is
asked again — the request and the function's stub, the call, never the disputing value
(shown two values, a small model picks by position) — up to ANSWERS times at a sampling
temperature. Each answer is one of three kinds: the case's own value, a value the disputing
samples return (the Test Engineer comes round to the code: CodeT's dual agreement, counting
the tests' side too), or neither — noise, which speaks for no side. Asking stops at the
first answer that agrees with the code, and the case is set aside (graphs/disputes.py); it
is kept — a test the code must pass — only when no answer agreed with the code and the
case's own value outnumbers the noise. Every asking is a ledger event,
`acceptance_case_reasked`, with the answers.

Why: on HumanEval 70-99 (commit fb8a680) the samples disputed 22 proposed cases. Asked
five times each, offline, the Test Engineer gave its value back five times in one, 74's
tie, where it was right; four times of five in two where it was wrong (84's `solve(0)`,
98's `count_upper`); at most once in the other 19, all wrong. Counting every differing
answer against the case (as until 2026-12-06) set 74's right tie case aside whenever one
answer of five was noise: at `25fa70d` its first answer was `['b', 'c']` for
`total_match(['a', 'b', 'c'], ['d', 'e', 'f'])`, a list neither side returns, and the code
returning the second list on a tie merged, wrong.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..agents import test_engineer
from ..agents.examples import canonical
from ..agents.raising import same_raise, written
from ..errors import ModelError, ModelOutputInvalid
from .acceptance import spelled

if TYPE_CHECKING:
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["ANSWERS", "Asker", "agreeing", "differing", "same_value", "tally", "upheld"]

ANSWERS = 5
_TEMPERATURE = 0.8


class Asker:
    """Asks each case once per attempt loop (later settlements reuse the answers), and
    knows which cases its answers upheld; without a stub to pose the call against (the
    functions live in several files), nothing is asked."""

    def __init__(self, n: Nodes, s: FeatureState, gw: Any, stub: tuple[str, str] | None, *,
                 strings: bool = False, documented: Iterable[str] = ()):
        self._n, self._s, self._gw, self._stub = n, s, gw, stub
        self._strings = strings  # the documented results are strings (acceptance.spelled)
        self._documented = list(documented)  # the documented examples' expected values
        self._asked: dict[tuple[str, str], tuple[list[str], bool]] = {}

    def echo(self, case: dict[str, Any]) -> str | None:
        """The documented example's value that the case's own value repeats, if any.

        Asked again, a 0.5B model gives a documented example's value back whatever the
        call: on HumanEval 4 it answered `1.0` (the example's) for all four calls it was
        asked, and upheld `mean_absolute_deviation([1.0, 2.0, 3.0]) == 1.0` against every
        sample (right: 0.667). In the ledgers of nine benchmark runs of HumanEval 0-99 (191
        problems run, 2026-12-06/07), 21 disputed cases were upheld and all 21 were wrong;
        16 of them repeated a documented example's value. Of the 54 disputed cases that
        did, 2 were right (75's `is_multiply_prime(20) == True`), and neither was upheld.
        Such a case is not asked: its answers could not tell."""
        return next((d for d in self._documented if same_value(case["expected"], d)), None)

    @property
    def upheld(self) -> set[tuple[str, str]]:
        """The (call, expected) of every case its answers upheld."""
        return {key for key, (_, kept) in self._asked.items() if kept}

    @property
    def heard(self) -> dict[str, list[str]]:
        """Every answer this loop heard, by call (disputes.remember keeps them for later
        rounds)."""
        out: dict[str, list[str]] = {}
        for (call, _), (answers, _) in self._asked.items():
            out.setdefault(call, []).extend(answers)
        return out

    def __call__(self, case: dict[str, Any], against: list[str]) -> list[str]:
        key = (case["call"], case["expected"])
        if self._stub is None:
            return []
        if key not in self._asked and self.echo(case) is not None:
            self._asked[key] = ([], False)
            self._n.env.ledger.event(self._s["run_id"], "acceptance_case_echo", gate="G5",
                                     call=case["call"], expected=case["expected"])
        if key not in self._asked:
            answers, error = _answers(self._gw, self._s["feature"], self._stub, case, against,
                                      spelled if self._strings else str)
            self._asked[key] = (answers, upheld(case, answers, against))
            self._n.env.ledger.event(self._s["run_id"], "acceptance_case_reasked", gate="G5",
                                     call=case["call"], expected=case["expected"],
                                     answers=answers, upheld=self._asked[key][1],
                                     **({"error": error} if error else {}))
        return self._asked[key][0]


def _answers(gw: Any, feature: str, stub: tuple[str, str], case: dict[str, Any],
             against: list[str], read: Callable[[str], str]) -> tuple[list[str], str | None]:
    """The answers until the verdict is settled (`_settled`), and why asking stopped early
    when the model failed: a second opinion that cannot be had leaves the case to the rule
    without it (the model's error is in the ledger)."""
    path, code = stub
    out: list[str] = []
    while not _settled(case, out, against):
        try:
            out.append(read(test_engineer.ANSWER.run(
                gw, gate="G5", temperature=_TEMPERATURE, max_tokens=96, feature=feature,
                stub_path=path, stub_code=code, call=case["call"]).expected))
        except ModelOutputInvalid:
            out.append("")  # an answer that is no answer is noise
        except ModelError as exc:
            return out, str(exc)[:300]
    return out, None


def _settled(case: dict[str, Any], answers: list[str], against: list[str]) -> bool:
    """Whether more answers cannot change the verdict: one agreed with the code, all
    ANSWERS are in, or the noise already outnumbers whatever is left to come."""
    own, noise = tally(case, answers)
    return (agreeing(answers, against) is not None or len(answers) >= ANSWERS
            or own + ANSWERS - len(answers) <= noise)


def tally(case: dict[str, Any], answers: list[str]) -> tuple[int, int]:
    """(answers giving the case's own value, the others)."""
    own = sum(same_value(a, case["expected"]) for a in answers)
    return own, len(answers) - own


def upheld(case: dict[str, Any], answers: list[str], against: list[str]) -> bool:
    """Kept: every answer is in, none gives a value the disputing samples return, and the
    case's own value was given more often than noise."""
    own, noise = tally(case, answers)
    return len(answers) == ANSWERS and agreeing(answers, against) is None and own > noise


def agreeing(answers: list[str], against: list[str]) -> str | None:
    """The first answer that gives a value the disputing samples return."""
    return next((a for a in answers if any(same_value(a, v) for v in against)), None)


def differing(case: dict[str, Any], answers: list[str]) -> str | None:
    """The first answer that is not the case's value; None when every one is."""
    return next((a for a in answers if not same_value(a, case["expected"])), None)


def same_value(a: str, b: str) -> bool:
    """Whether two answers denote the same value: as Python literals (`['a']` and `["a"]`
    do; `1` and `'1'` do not, nor `1` and `True`), a bare word as the string it spells (the model answers
    `db0db` for `'db0db'`), else as written, spaces aside; an empty answer never does."""
    if written(a) or written(b):  # "ValueError" is "raises ValueError"
        return same_raise(a, b)
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
