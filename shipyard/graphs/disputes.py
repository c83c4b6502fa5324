"""Which of the Test Engineer's proposed cases a candidate may fail (DESIGN §1, issue 7).

A proposed case can be wrong: a 0.5B model miscounts, and on HumanEval 0-29 its cases were
the wrong party far more often than the code that passed the documented examples (98% of
those candidates were correct). A proposed case is set aside — recorded, shown to the human
at G6, removed from the test file — only when no candidate passes it and the candidates that
pass every documented example agree against it. Documented examples are never set aside,
and without one nothing is (wrong candidates agree with each other as readily as right ones).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .acceptance import AUTHORITATIVE

if TYPE_CHECKING:
    from .build import Candidate
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["settle", "voters"]


def _key(case: Any) -> tuple[str, str]:
    return (case["call"], case["expected"]) if isinstance(case, dict) else (case.call,
                                                                          case.expected)


def voters(candidates: list[Candidate]) -> list[Candidate]:
    """Samples that pass every documented example: each one is a vote on the proposed cases.
    No attempt is shown a proposed case while a documented example fails, nor another
    attempt's code (graphs/build.py), so each is an opinion of its own."""
    return [c for c in candidates if not c.problems and c.authoritative_ok()]


def settle(n: Nodes, s: FeatureState, acc: dict[str, Any], candidates: list[Candidate],
           *, last: bool = False) -> tuple[Candidate, list[str], dict[str, Any]] | None:
    """A candidate that passes every case left once disputes are settled, with the settled
    acceptance record; None when there is none yet. Nothing is recorded unless one is found."""
    settled, events = _settle_disputes(acc, candidates, last=last)
    aside = {_key(d) for d in settled["disputed"]}
    live = [c for c in candidates if not c.problems and c.probe is not None
            and c.probe.error is None and all(r.ok for r in c.probe.results
                                              if _key(r) not in aside)]
    if not live:
        return None
    for event in events:
        n.env.ledger.event(s["run_id"], "acceptance_case_disputed", gate="G5", **event)
    return live[0], [], settled


def _settle_disputes(acc: dict[str, Any], candidates: list[Candidate], *, last: bool
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Set aside proposed cases that no candidate passes and that the candidates passing
    every documented example agree against (the same returned value, not the expected one):
    two or more samples — identical code sampled twice counts twice, as CodeT counts
    duplicates: when a 0.5B model writes `return len(string)` every time, that is
    agreement — or, once the attempts are spent (`last`), a single one. Those are shown to
    the human at G6, not silently dropped: on HumanEval 0-29, 98% of the candidates that
    passed the documented examples were correct, and the Test Engineer's cases were the
    wrong party far more often. Returns the settled record and the ledger events for the
    cases newly set aside."""
    # Without one documented example to pass, agreement is no evidence: wrong candidates of
    # a 0.5B model agree with each other as readily as right ones (seen on `make demo`,
    # where two agreed "hello world!" -> 'helloworld' against the correct case).
    if not any(c["source"] in AUTHORITATIVE for c in acc["cases"]):
        return acc, []
    votes = voters(candidates)
    if not votes or (len(votes) < 2 and not last):
        return acc, []
    disputed, why = list(acc["disputed"]), dict(acc.get("why", {}))
    events: list[dict[str, Any]] = []
    for idx, case in enumerate(acc["cases"]):
        if case["source"] in AUTHORITATIVE or case in disputed:
            continue
        if any(c.probe.results[idx].ok for c in votes):  # type: ignore[union-attr]
            continue
        wrong = [c.probe.results[idx].got for c in votes]  # type: ignore[union-attr]
        if len({_outcome(w) for w in wrong}) == 1 and (last or len(wrong) >= 2):
            disputed.append(case)
            why[case["call"]] = (
                f"{len(wrong)} samples that pass every documented example all return "
                f"{wrong[0]}" if len(wrong) >= 2 else
                f"unconfirmed: the only code that passes every documented example returns "
                f"{wrong[0]}; no second sample could confirm either value")
            events.append({"call": case["call"], "expected": case["expected"], "got": wrong,
                           "why": why[case["call"]]})
    return {**acc, "disputed": disputed, "why": why}, events


def _outcome(got: str) -> str:
    """What a call did, for agreement: its value, or the type of what it raised (two
    samples that raise ValueError with different messages agree that the input is bad)."""
    m = re.match(r"raised (\w+)", got)
    return f"raised {m.group(1)}" if m else got
