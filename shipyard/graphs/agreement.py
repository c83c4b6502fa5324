"""Which candidate G5 takes of those passing every case left (DESIGN §1, issue 7).

Passing the cases is not enough on its own: on HumanEval 60-89 four changes merged that
passed every case left to them, and on 70-99 two of four passed every proposed case too.
A candidate is taken when the candidates that pass every case left agree on inputs near
the cases' own (graphs/variants.py) and on those of the cases set aside — two or more,
more than all the others together, earlier rounds' samples among them (graphs/disputes.py
`dissent`), not two samples alone that a third passing sample parts from
(`_contested_pair`), and not the greedy answer with samples of its own prompt alone
(`_one_prompt`) unless three or more of them agree once the attempts are spent
(`ONE_PROMPT_QUORUM`) — or, when no second sample passes in the wait (graphs/build.py
PEER_WAIT), alone if a proposed case confirms it and it is the greedy answer, not a sample.
An input a voter does not answer is left out of the comparison, and a voter that answers
fewer than half of them sits out the vote (`_answering`). Every choice is a ledger event:
`candidates_agree`, `candidates_agree_one_prompt` (the greedy answer and samples of its own
prompt, with `taken`), `candidates_disagree`, `candidates_silent`, `candidate_alone` (with
`taken`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from .acceptance import AUTHORITATIVE

if TYPE_CHECKING:
    from .candidate import Candidate
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["Behaviour", "agreed", "corroborated", "prompts_posed", "split", "unconfirmed", "voters"]

# A group of one prompt's answers (`_one_prompt`) is taken once the attempts are spent if
# the greedy answer and at least two of its samples agree: a wrong greedy answer that
# passes the documented examples is rarely repeated twice more at 0.8-1.0. In the ledgers
# of HumanEval 0-99 (2026-12-05/06) such groups reached three on six problems — 5, 6, 20,
# 67, 88, 98 — and every one was right; the two wrong groups (74, 75) were pairs. Waiting
# on, 6 and 88 were blocked once although the raw model gets both right.
ONE_PROMPT_QUORUM = 3

Behaviour = Callable[["Candidate"], "tuple[str, ...] | None"]


def voters(candidates: list[Candidate]) -> list[Candidate]:
    """Samples that pass every documented example: each one is a vote on the proposed cases.
    No attempt is shown a proposed case while a documented example fails, nor another
    attempt's code (graphs/build.py), so each is an opinion of its own."""
    return [c for c in candidates if not c.problems and c.authoritative_ok()]


def corroborated(c: Candidate) -> bool:
    """Whether a case the Test Engineer proposed, not only the documented examples, says
    the candidate is right (or there is no documented example to be the only judge)."""
    results = c.probe.results if c.probe is not None else ()
    return any(r.ok and r.source == "proposed" for r in results) or not any(
        r.source in AUTHORITATIVE for r in results)


def agreed(n: Nodes, s: FeatureState, live: list[Candidate], behaviour: Behaviour, *,
           last: bool, waited: bool, posed: int = 1) -> Candidate | None:
    """The candidate of the majority among `live` on the variant inputs (two or more, more
    than all the others together); a lone candidate when a proposed case confirms it and no
    second sample came in the wait (`waited`), or, once the attempts are spent (`last`),
    unconfirmed — and in both cases only the model's most likely answer (temperature 0),
    never a sample. Measured on HumanEval 70-99 and the re-run of its disputed problems,
    with `make demo`: of the lone candidates taken, the greedy ones were right 3 times in
    4, the samples (0.6-1.0) 2 times in 4; both wrong samples came on a problem where 1
    attempt in 10 passed the documented examples. A lone sample is as often luck as right,
    and a wrong merge costs more than a blocked change the human can run again (issue 7:
    never wrong ones)."""
    def alone(c: Candidate) -> Candidate | None:
        # a sample is never taken alone: while waiting it is simply not taken (and not
        # recorded again at every later attempt); once the attempts are spent, the refusal
        # is recorded once
        if not (last or (waited and corroborated(c) and c.greedy)):
            return None
        n.env.ledger.event(s["run_id"], "candidate_alone", gate="G5", attempt=c.attempt,
                           corroborated=corroborated(c), temperature=c.temperature,
                           taken=c.greedy)
        return c if c.greedy else None

    if len(live) == 1:
        return alone(live[0])
    if not live:
        return None
    rejects = _rejects(live)
    seen = _answering(n, s, [(c, b) for c in live if (b := behaviour(c)) is not None],
                      rejects)
    if len(seen) < 2:
        return alone(seen[0][0]) if seen else None
    # an input some candidate rejects (raises, times out, or falls off its end returning
    # None where no case expects None) may lie outside the function's domain, where any
    # answer is as good as another: only inputs all of them take count
    keep = [i for i in range(len(seen[0][1])) if not any(rejects(b[i]) for _, b in seen)]
    groups = Counter(tuple(b[i] for i in keep) for _, b in seen)
    top, size = groups.most_common(1)[0]
    # more than all the others together, not only more than the next: two samples agreeing
    # while two others each go their own way is a model unsure of the answer (HumanEval 65:
    # round 0's two samples parted, round 1's two agreed, and were wrong)
    def disagree(**pair: list[int]) -> None:
        n.env.ledger.event(s["run_id"], "candidates_disagree", gate="G5",
                           attempts=[c.attempt for c, _ in seen], groups=len(groups),
                           inputs=len(keep), **pair)

    if seen[0][1] and not keep:  # agreeing on no input at all is not agreement
        disagree()
        return None
    if size >= 2 and size > len(seen) - size:
        group = [(c, b) for c, b in seen if tuple(b[i] for i in keep) == top]
        members = [c for c, _ in group]
        attempts = [c.attempt for c in members]
        if _contested_pair(members, len(seen)):
            disagree(pair=attempts)
            return None
        if posed > 1 and _one_prompt(members):
            quorum = last and len(group) >= ONE_PROMPT_QUORUM
            n.env.ledger.event(s["run_id"], "candidates_agree_one_prompt", gate="G5",
                               attempts=attempts, of=len(seen), inputs=len(keep), taken=quorum)
            if not quorum:
                return None
        else:
            n.env.ledger.event(s["run_id"], "candidates_agree", gate="G5",
                               attempts=attempts, of=len(seen), inputs=len(keep))
        # of those that agree, the one that rejects the fewest inputs (then the first): a
        # sample that loops where the others answer agrees only where it answers
        return min(group, key=lambda cb: sum(map(rejects, cb[1])))[0]
    disagree()
    return None


def _answering(n: Nodes, s: FeatureState, seen: list[tuple[Candidate, tuple[str, ...]]],
               rejects: Callable[[str], bool]) -> list[tuple[Candidate, tuple[str, ...]]]:
    """The voters that answer at least half the variant inputs. An input one voter rejects
    leaves the comparison for all (`agreed`), so a candidate that passes the documented
    examples and answers nothing else — a lookup of the examples, `else: return None`, or
    code that raises off them — would empty the comparison and let every other voter
    "agree" on nothing. Such a candidate sits out the vote instead (ledger
    `candidates_silent`): it is not taken, and it vetoes no input."""
    silent = {c.attempt for c, b in seen if 2 * sum(map(rejects, b)) > len(b)}
    if silent:
        n.env.ledger.event(s["run_id"], "candidates_silent", gate="G5",
                           attempts=sorted(silent))
    return [(c, b) for c, b in seen if c.attempt not in silent]


def _rejects(live: list[Candidate]) -> Callable[[str], bool]:
    """Whether a value on a variant input says the candidate does not take that input: it
    raised, timed out, or returned None while no case expects None (a function that falls
    off its end has not answered). HumanEval 59, `largest_prime_factor` ("assume n > 1 and
    is not a prime"): four right samples agreed on every input in its domain and parted on
    the primes and 1 near it (`None`, 1, -1), so nothing was taken."""
    none_expected = any(r.expected.strip() == "None" for c in live if c.probe is not None
                        for r in c.probe.results)
    return lambda got: got.startswith("raised ") or (got == "None" and not none_expected)


def _contested_pair(group: list[Candidate], voting: int) -> bool:
    """Whether an agreeing group is two samples, neither the greedy answer, that a third
    voter parts from. Two draws at 0.8-1.0 that agree while another passing sample does
    not are a model unsure of the answer, not a confirmation: in the ledgers of five runs
    of HumanEval 70-99 (2026-12-05/07) such pairs merged wrong on 75 (`is_multiply_prime`,
    both reading "three distinct primes") and 91 (`is_bored`, twice the same wrong code),
    and right on 80 once. It waits for a third sample to join it (or the greedy answer)."""
    return len(group) == 2 and voting > 2 and not any(c.greedy for c in group)


def _one_prompt(group: list[Candidate]) -> bool:
    """Whether an agreeing group is the greedy answer and samples of its own prompt only.

    A sample of the prompt whose greedy answer passed mostly repeats that answer, right or
    wrong: it counts the model's most likely answer twice. On HumanEval 10-84 (three runs,
    2026-12-05/06) such groups merged nine times, wrong twice (74 `total_match`, 75
    `is_multiply_prime`); groups across two prompts, or of samples that parted from a
    failed greedy answer, merged 49 times and were wrong once (65, before earlier rounds
    voted). Such a group waits for an answer to another prompt to agree, when the round
    posed another (`posed`): a revision or a change across files has one prompt only —
    or, once the attempts are spent, until it is ONE_PROMPT_QUORUM strong."""
    return any(c.greedy for c in group) and len({c.prompt for c in group}) == 1


def prompts_posed(candidates: list[Candidate]) -> int:
    """How many different prompts the attempts answered (earlier rounds' voters included)."""
    return len({c.prompt for c in candidates})


def unconfirmed(candidates: list[Candidate]) -> str | None:
    """Why the attempts end with nothing taken although a sample passed every documented
    example: no second sample agreed with it, or only samples of the greedy answer's own
    prompt did (graphs/build.py), for the human to read."""
    votes = voters(candidates)
    if len(votes) >= 2 and _one_prompt(votes) and prompts_posed(candidates) > 1:
        return (f"{len(votes)} attempts passed every documented example and agree, but all "
                f"answer one prompt (its greedy answer and samples of it, which mostly repeat "
                f"it): no answer to another prompt confirmed them, and it takes "
                f"{ONE_PROMPT_QUORUM} of one prompt agreeing to stand alone. Revise the "
                f"request with more examples, or run again")
    if len(votes) != 1 or votes[0].greedy:
        return None
    c = votes[0]
    # an earlier round's sample votes as attempt -1, -2, … (`_earlier`): not "attempt 0"
    which = (f"attempt {c.attempt + 1}, a sample" if c.attempt >= 0
             else "a sample of an earlier round")
    return (f"{which} at temperature {c.temperature:g}, passed every "
            f"documented example, but no second sample agreed with it and a lone sample is not "
            f"taken (it is as often luck as right): revise the request with more examples, or "
            f"run again")


def split(candidates: list[Candidate]) -> str:
    """Why the attempts end with nothing taken although every case passed: the candidates
    that pass them do not agree on inputs near the cases (`agreed`), for the human."""
    votes = voters(candidates)
    return (f"{len(votes)} attempts pass every documented example but do not agree on inputs "
            f"near the cases' own, or too few of them do (the ledger's `candidates_disagree` "
            f"events show which): the model reads the request more than one way. Revise the "
            f"request with an example of the behaviour you mean, or run again")
