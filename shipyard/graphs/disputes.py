"""Which of the Test Engineer's proposed cases a candidate may fail (DESIGN §1, issue 7).

A proposed case can be wrong: a 0.5B model miscounts, and on HumanEval 0-29 its cases were
the wrong party far more often than the code that passed the documented examples (98% of
those candidates were correct). A proposed case is set aside — recorded, shown to the human
at G6, removed from the test file — only when no candidate passes it, the candidates that
pass every documented example agree against it, and the Test Engineer, asked the call again,
does not uphold it (graphs/reask.py: an answer agreeing with the samples, or more noise than
its own value). Documented examples are never set aside. Without one, the voters are the
candidates that pass every proposed case two or more candidates pass, when such a case
parts the candidates, or else four or more samples returning one value together
(`anchored`): wrong candidates agree with each other as readily as right ones.
Where the samples split on a case set aside and the Test Engineer, asked again, gives one
of their values and no other, that value is the one the code must return (`_resolved`):
code and test agreeing outweigh a larger group of samples.

Which candidate passing the cases left is taken: graphs/agreement.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .acceptance import AUTHORITATIVE
from .agreement import Behaviour, agreed, prompts_posed, voters
from .reask import Asker, agreeing, differing, same_value, tally, upheld

if TYPE_CHECKING:
    from .candidate import Candidate
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["anchored", "confirm", "dissent", "parted", "parting", "remember", "settle",
           "standing", "taken", "with_set_aside"]

EARLIER = 6  # samples of earlier rounds kept to vote again: a round ends with a few at most
# Samples that pass every documented example and all fail a proposed case, each in its own
# way, set it aside from this many (and not unless the Test Engineer, asked again, gives its
# value back otherwise). In the ledgers of HumanEval 10-84 (three runs, 2026-12-05/06), 15
# proposed cases were failed so by every such sample, and all 15 were wrong
# (`greatest_common_divisor(-3, -5)` = 15, `decode_shift` of text it never encoded); kept,
# one blocked a correct change (13) for two rounds. Since 2026-12-07 such a case is set
# aside only when an answer of the Test Engineer's also gives one of the samples' values
# (`parting`, `_resolved`): otherwise the samples' majority merged misreadings (81).
SPLIT = 3
# Without a documented example or a proposed case that parts the samples, this many samples
# (of two prompts or more) returning one value set a case aside (`anchored`) — and only
# when the Test Engineer, asked the call again, gives that value too: on `sub(a, b)`
# (features benchmark, 2026-12-07) four samples of `return -b` returned -2 for
# `sub(1, 2)`, the Test Engineer gave -1 twice and never -2, and `-b` merged.
UNANIMOUS = 4


_PASSED = {True: "documented example", False: "proposed case two or more samples pass"}


def _documented(acc: dict[str, Any]) -> bool:
    """Whether the request or a docstring gave an example to pass (never set aside)."""
    return any(c["source"] in AUTHORITATIVE for c in acc["cases"])


def _key(case: Any) -> tuple[str, str]:
    return (case["call"], case["expected"]) if isinstance(case, dict) else (case.call,
                                                                          case.expected)


def settle(n: Nodes, s: FeatureState, acc: dict[str, Any], candidates: list[Candidate],
           *, behaviour: Behaviour, last: bool = False, waited: bool = False,
           reask: Asker | None = None) -> tuple[Candidate, list[str], dict[str, Any]] | None:
    """A candidate that passes every case left once disputes are settled, and that
    agreement confirms — or, alone after waiting for a second sample (`waited`), a proposed
    case — with the settled acceptance record; None when there is none yet. Nothing is
    recorded unless one is found."""
    settled, events = _settle_disputes(acc, candidates, last=last, reask=reask)
    aside = {_key(d) for d in settled["disputed"]}
    live = standing(candidates, aside, settled.get("resolved", {}))
    seen = with_set_aside(behaviour, aside)
    chosen = agreed(n, s, live, seen, last=last, waited=waited, posed=prompts_posed(candidates))
    if chosen is None:
        return None
    for event in events:
        n.env.ledger.event(s["run_id"], "acceptance_case_disputed", gate="G5", **event)
    return chosen, [], settled


def standing(candidates: list[Candidate], aside: set[tuple[str, str]],
             resolved: dict[str, str] | None = None) -> list[Candidate]:
    """The candidates that ran and pass every case not set aside (`aside`: (call, expected)),
    and return the resolved value (`_resolved`) on each call that has one."""
    resolved = resolved or {}
    return [c for c in candidates if not c.problems and c.probe is not None
            and c.probe.error is None and all(r.ok for r in c.probe.results
                                              if _key(r) not in aside)
            and all(_outcome(r.got) == resolved[r.call] for r in c.probe.results
                    if r.call in resolved)]


def with_set_aside(behaviour: Behaviour, aside: set[tuple[str, str]]) -> Behaviour:
    """`behaviour` followed by what the candidate returned on the inputs of the cases set
    aside. Such a case has no expected value left, but its input is still one the
    candidates must agree on (HumanEval 79: three samples returning 'dbdb', 'db0db' and '0'
    for the disputed decimal_to_binary(0) agreed near the cases, and the wrong one merged)."""
    keys = sorted(aside)

    def seen(c: Candidate) -> tuple[str, ...] | None:
        b = behaviour(c)
        got = {_key(r): r.got for r in c.probe.results}  # type: ignore[union-attr]
        return None if b is None else b + tuple(got.get(k, "raised KeyError") for k in keys)

    return seen


def _settle_disputes(acc: dict[str, Any], candidates: list[Candidate], *, last: bool,
                     reask: Asker | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Set aside proposed cases that no candidate passes and that the candidates passing
    every documented example agree against (the same returned value, not the expected one),
    or that SPLIT or more of them fail each in its own way: two or more samples — identical
    code sampled twice counts twice, as CodeT counts duplicates: when a 0.5B model writes
    `return len(string)` every time, that is agreement — or, once the attempts are spent
    (`last`), a single one. Those are shown to
    the human at G6, not silently dropped: on HumanEval 0-29, 98% of the candidates that
    passed the documented examples were correct, and the Test Engineer's cases were the
    wrong party far more often. A case `reask` upholds stays (graphs/reask.py): overruling
    one that eight samples of both prompts disputed won back HumanEval 29 and 56 but merged
    81 wrong, where the upheld case was wrong and so was the code (2026-12-06, not adopted).
    Returns the settled record and the ledger events for the cases newly set aside. A voter
    that raises on the case while others return a value abstains (`_against`)."""
    documented = _documented(acc)
    votes, parted = (voters(candidates), True) if documented else anchored(acc, candidates)
    if not votes or (len(votes) < 2 and not last):
        return acc, []
    passed = _PASSED[documented]
    disputed, why = list(acc["disputed"]), dict(acc.get("why", {}))
    resolved: dict[str, str] = {}
    kept = acc.get("confirmed", [])
    events: list[dict[str, Any]] = []
    for idx, case in enumerate(acc["cases"]):
        if case["source"] in AUTHORITATIVE or case in disputed or case in kept:
            continue
        if any(c.probe.results[idx].ok for c in votes):  # type: ignore[union-attr]
            continue
        wrong = _against([c.probe.results[idx].got for c in votes])  # type: ignore[union-attr]
        outcomes = {_outcome(w) for w in wrong}
        if not parted and (len(outcomes) > 1 or len(wrong) < len(votes)):
            continue  # with no case to tell them apart, only all of them together
        if (len(outcomes) == 1 and (last or len(wrong) >= 2)) or len(wrong) >= SPLIT:
            answers = reask(case, wrong) if reask is not None else []
            heard = [*acc.get("heard", {}).get(case["call"], []), *answers]
            if upheld(case, answers, wrong) or (not parted and agreeing(heard, wrong) is None):
                continue  # unanimity alone is no second party: the Test Engineer must agree
            if parting(wrong) and _resolved(outcomes, heard) is None:
                continue  # no party's value is confirmed: the case stands (`parting`)
            disputed.append(case)
            why[case["call"]] = (
                f"{len(wrong)} samples that pass every {passed} all fail it, "
                f"returning {len(outcomes)} different values ({', '.join(sorted(outcomes)[:3])})"
                if len(outcomes) > 1 else
                f"{len(wrong)} samples that pass every {passed} all return "
                f"{wrong[0]}" if len(wrong) >= 2 else
                f"unconfirmed: the only code that passes every {passed} returns "
                f"{wrong[0]}; no second sample could confirm either value") + _asked(
                case, answers, wrong, reask.echo(case) if reask is not None else None)
            if (value := _resolved(outcomes, heard)) is not None:
                resolved[case["call"]] = value
                why[case["call"]] += (f"; {value} is both what {wrong.count(value)} of them "
                                      f"return and an answer of the Test Engineer's: the code "
                                      f"must return it")
            events.append({"call": case["call"], "expected": case["expected"], "got": wrong,
                           "why": why[case["call"]], **({"resolved": resolved[case["call"]]}
                                                        if case["call"] in resolved else {})})
    return {**acc, "disputed": disputed, "why": why, "resolved": resolved}, events


def parting(got: list[str]) -> bool:
    """Whether the voters answer a disputed call with two or more different values (a
    voter that raises or returns None, while others return a value, has not answered).

    A case so parted is not set aside unless the Test Engineer's answers resolve the split
    (`_resolved`): the Test Engineer reads the call one way, the samples two or more other
    ways, and a majority among samples of a 0.5B model is no evidence at the one input
    where a reading of the request is known to differ. HumanEval 81 at `750ce0c`
    (2026-12-07): for `numerical_letter_grade([0.0, 0.0, 0.0, 0.0, 0.0])` the Test
    Engineer wrote `['E']` and five samples returned `[]` (three), `['E', 'E', 'E', 'E',
    'E']` and `['D-', 'D-', 'D-', 'D-', 'D-']`; the case was set aside, the three agreed
    near the cases, and code that grades 0.0 as nothing merged. In the ledgers of that
    run (30 problems) and of three runs of the seven free-form requests, the samples
    parted with no answer resolving on three calls, all 81's (the one other split,
    `count_words` in all three runs, was resolved). Kept, the case is failed by every
    candidate, the run ends blocked, and the human reads why (`parted`). The price: a
    case outside the function's domain, where right samples may differ (13's
    `greatest_common_divisor(-3, -5)`), blocks unless an answer resolves it."""
    answered = [g for g in got if g != "None"] or got
    return len({_outcome(g) for g in answered if not g.startswith("raised ")}) >= 2


def parted(acc: dict[str, Any], candidates: list[Candidate]) -> list[str]:
    """Why each proposed case still failed by every voter stands: the voters parted on it
    (`parting`) and no answer of the Test Engineer's resolved the split. For the human,
    when the attempts end with nothing taken."""
    documented = _documented(acc)
    votes, by_anchor = (voters(candidates), True) if documented else anchored(acc, candidates)
    if not by_anchor:  # without a case that parts the samples, no split sets a case aside
        return []
    out = []
    for idx, case in enumerate(acc["cases"]):
        if case["source"] in AUTHORITATIVE or not votes or any(
                c.probe.results[idx].ok for c in votes):  # type: ignore[union-attr]
            continue
        got = _against([c.probe.results[idx].got for c in votes])  # type: ignore[union-attr]
        if parting(got) and _resolved({_outcome(g) for g in got},
                                      acc.get("heard", {}).get(case["call"], [])) is None:
            values = sorted({_outcome(g) for g in got})
            out.append(f"{case['call']} == {case['expected']} (the Test "
                       f"Engineer's case) stands: the {len(got)} attempts that pass every "
                       f"{_PASSED[documented]} read it {len(values)} different ways "
                       f"({', '.join(values[:3])}) and none was confirmed by the Test "
                       f"Engineer, asked again; revise the request with an example of that "
                       f"call, or run again")
    return out


def anchored(acc: dict[str, Any], candidates: list[Candidate]
             ) -> tuple[list[Candidate], bool]:
    """Without a documented example, (the voters on the proposed cases, whether a case parts
    them). The voters are the candidates that pass every anchor — a proposed case two or
    more candidates pass (code and test agreeing, CodeT's dual agreement) — two or more of
    them when an anchor parts the candidates (some fail it); when none does, UNANIMOUS or
    more answering two prompts or more, and then only what all of them return together
    counts against a case. Agreement alone is weak evidence: wrong candidates of a 0.5B
    model agree with each other as readily as right ones (on `make demo`, two agreed
    "hello world!" -> 'helloworld' against the correct case), and a case every candidate
    passes (`sub(0, 0) == 0`) tells `a - b` from `-b` no better. Measured on free-form
    requests (2026-12-07): for `sub(a, b)` the Test Engineer wrote `sub(1, 2) == -1`, which
    parts eight samples of `a - b` from the greedy `-b`, and the wrong `sub(1.5, 2.5) ==
    -1.5` they then dispute; another time one sample of `b - a` passed its wrong
    `sub(5.5, 6.6) == 1.1` (one candidate is no anchor); for `is_even(n)` all twenty
    samples of both prompts returned `n % 2 == 0`'s values against its `is_even(1) == True`."""
    votes = voters(candidates)
    anchors = [i for i in range(len(acc["cases"]))
               if sum(c.probe.results[i].ok for c in votes) >= 2]  # type: ignore[union-attr]
    parted = any(not c.probe.results[i].ok for c in votes for i in anchors)  # type: ignore[union-attr]
    held = [c for c in votes if all(c.probe.results[i].ok for i in anchors)]  # type: ignore[union-attr]
    if parted:
        return (held if len(held) >= 2 else []), True
    return (held if len(held) >= UNANIMOUS and prompts_posed(held) > 1 else []), False


def _resolved(outcomes: set[str], heard: list[str]) -> str | None:
    """The value a disputed call must return when the samples split on it: the one of their
    values that the Test Engineer's answers (asked again, this round or an earlier one) give
    — code and test agreeing, CodeT's dual agreement — when they give it and nothing else.
    Without it the larger group of samples decides, and a misreading most samples share
    merges (HumanEval 79: six samples returned 'dbdb' for decimal_to_binary(0), one 'db0db',
    and the Test Engineer, asked again, answered 'db0db'; the 'dbdb' code merged). In the
    ledgers of every benchmark run of HumanEval 0-99 (2026-12-05/06), the samples split on
    a disputed call and an answer matched one side five times: the right value three times
    (79 twice), and twice the positive greatest common divisor of two negative numbers
    (13), which the reference gives negative and its tests never call."""
    if len({o for o in outcomes if not o.startswith("raised ")}) < 2:
        return None
    answers = [a for a in heard if a.strip()]  # an answer that was no answer says nothing
    agreed = {o for o in outcomes if any(same_value(a, o) for a in answers)}
    if len(agreed) != 1:
        return None
    value = agreed.pop()
    # and every answer gives it: asking stops at the first answer a sample returns, and
    # against samples that read a call four ways a guess hits one soon enough (HumanEval
    # 41 at 2dab826: the samples returned 2, 20, 6 and 10 for car_race_collision(5), the
    # Test Engineer 12, then 0, then 2; 2 was "resolved" and the code returning it — wrong,
    # as were all four — merged)
    return value if all(same_value(a, value) for a in answers) else None


def remember(acc: dict[str, Any], heard: dict[str, list[str]]) -> dict[str, Any]:
    """`acc` with the Test Engineer's answers of a round (`heard`: call -> answers) added to
    those of earlier rounds: asking stops at the first answer that differs (graphs/reask.py),
    so one round hears one answer per case, and `_resolved` weighs all of them."""
    merged = {call: list(answers) for call, answers in acc.get("heard", {}).items()}
    for call, answers in heard.items():
        merged.setdefault(call, []).extend(answers)
    return {**acc, "heard": merged} if merged else acc


def confirm(acc: dict[str, Any], candidates: list[Candidate]) -> dict[str, Any]:
    """`acc` with the proposed cases a sample passing every documented example also passed
    recorded as `confirmed`: two parties agree on the value, and no later round may set the
    case aside. A round starts with no candidates of its own (HumanEval 81: round 0's
    greedy answer passed two right cases; round 1's two samples, both wrong, agreed against
    them, and they were set aside and the wrong code merged). Without a documented example
    to pass first it takes two samples, as for an anchor (`anchored`): one sample passing a
    wrong case is as often luck, and would keep it from ever being set aside."""
    votes = voters(candidates)
    needed = 1 if _documented(acc) else 2
    kept = list(acc.get("confirmed", []))
    for idx, case in enumerate(acc["cases"]):
        if case["source"] not in AUTHORITATIVE and case not in kept and sum(
                c.probe.results[idx].ok for c in votes) >= needed:  # type: ignore[union-attr]
            kept.append(case)
    return {**acc, "confirmed": kept}


def _asked(case: dict[str, Any], answers: list[str], against: list[str],
           echo: str | None = None) -> str:
    if echo is not None:
        return (f"; not asked again: {case['expected']} is also a documented example's value, "
                f"which the Test Engineer gives back whatever the call")
    if not answers:
        return ""
    if (other := agreeing(answers, against)) is not None:
        return (f"; asked the call again, the Test Engineer answered {other}, as the samples "
                f"return, not {case['expected']}")
    if differing(case, answers) is None:  # the model failed before every answer was in
        return (f"; asked the call again, the Test Engineer gave {case['expected']} in "
                f"{len(answers)} answer(s) before asking failed")
    others = sorted({a or "nothing" for a in answers if not same_value(a, case["expected"])})
    own, _ = tally(case, answers)
    return (f"; asked the call again, the Test Engineer gave {case['expected']} in {own} of "
            f"{len(answers)} answers, and in the others values neither side returns "
            f"({', '.join(others[:3])})")


def _against(got: list[str]) -> list[str]:
    """The voters' outcomes that count against a case: their values, when some return one
    and others raise — a sample that times out on the input (HumanEval 70: two of four
    looped on odd lengths) says nothing about the value the case expects. When all raise,
    all count: agreeing that the input is bad is an opinion on it."""
    values = [g for g in got if not g.startswith("raised ")]
    return values or got


def _outcome(got: str) -> str:
    """What a call did, for agreement: its value, or the type of what it raised (two
    samples that raise ValueError with different messages agree that the input is bad)."""
    m = re.match(r"raised (\w+)", got)
    return f"raised {m.group(1)}" if m else got


def dissent(acc: dict[str, Any], candidates: list[Candidate]) -> dict[str, Any]:
    """`acc` with the samples of a round that ended with nothing taken and that passed every
    documented example, kept (`earlier`) to vote again in the next round: the run's samples
    are draws of one model, and a split in round 0 is evidence round 1 must outweigh. On
    HumanEval 65 (2026-12-05) round 0's two samples disagreed near the examples, round 1's
    two agreed with each other, and that code merged wrong. Identical code counts twice, as
    in agreement everywhere (CodeT counts duplicates)."""
    kept = [{"files": c.files, "temperature": c.temperature, "prompt": c.prompt}
            for c in voters(candidates)]
    return {**acc, "earlier": kept[-EARLIER:]}


def taken(acc: dict[str, Any]) -> dict[str, Any]:
    """`acc` once a candidate is taken: earlier rounds' samples have had their say."""
    return {k: v for k, v in acc.items() if k != "earlier"}
