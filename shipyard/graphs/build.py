"""G5's inner loop (DESIGN §1, issue 7).

The Implementer replies with code blocks; code makes each a candidate (graphs/candidate.py):
targeted edits over the skeleton code wrote for the new functions, checks that every
Python file parses, applies ruff's safe fixes where they touch only the new lines, lints
the new lines (graphs/lint.py) and runs every G3 case (graphs/acceptance.py) against the
candidate in the sandbox. Failures go straight back to the Implementer with what each
call returned, for a bounded number of attempts (greedy first, then fresh samples and
now and then an informed one). Only a green candidate is committed for review.

A proposed case can be wrong (a 0.5B model miscounts). It is set aside — recorded,
shown to the human, removed from the test file — only when no candidate passes it and
the samples that pass every documented example agree against it (graphs/disputes.py,
after CodeT). Documented examples are never set aside.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Set as AbstractSet
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents import implementer
from ..runtime.scratch import scratch_dir
from . import probing, skeleton
from .acceptance import AUTHORITATIVE
from .agreement import corroborated, split, unconfirmed
from .candidate import IMPLEMENT_MAX_TOKENS, Candidate, from_reply
from .context import defined_in_repo, defs, existing, is_test, named, planned_files
from .disputes import confirm, dissent, parted, remember, settle, taken
from .reask import Asker

if TYPE_CHECKING:
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["Candidate", "implement"]

# attempt -> (temperature, informed?, plain?). Two greedy attempts first, one per prompt:
# `plain` poses the stub as HumanEval does ("Complete this Python function", the stub and
# nothing else, 140 prompt tokens), the second is the `complete` task with the request and
# what the first attempt's calls returned. Measured greedy on HumanEval 0-49, uninformed:
# plain 37/50, the task prompt 35/50 at 2.3x the prompt tokens, each right where the other
# was wrong on several problems, so two prompts at temperature 0 are two good, different
# answers (41/50 between them). Then samples, fresh at 0.8-0.9. Repairs shown their own
# previous code were tried: on HumanEval 0-29 not one turned a failing documented example
# into a passing one, and on `make demo` they resent the same function word for word ("Is
# Self-Repair a Silver Bullet?", ICLR 2024). What finds the hard ones is more samples of
# the stub alone. In the ledgers of HumanEval 10-99 (12 runs, 2026-12-05/06), on the runs
# where both greedy answers were wrong, the samples of the stub alone were right 47 times
# in 229 (21%), the task prompt's 15 in 123 (12%), and samples told what the last attempt
# got wrong 5 in 88 (6%); at temperature 1.0 the stub's samples were right 6 in 51, at
# 0.8-0.9 41 in 178. So a slot that is both informed and plain poses the stub alone when
# it can (one function in one file, no findings or revisions to relay) and tells what went
# wrong only when it cannot: a change to existing code, where the trouble is mostly a
# syntax error or a lint finding. Easy problems stop at the first green attempt and pay
# nothing.
_SCHEDULE = [(0.0, False, True), (0.0, True, False), (0.8, False, True), (0.9, True, True),
             (0.9, False, True), (0.8, False, False), (0.8, False, True), (0.9, True, True)]
# After the schedule, two fresh samples more, only as second opinions on a candidate
# that passes the documented examples (agreement needs a second sample: agreement.py).
_EXTRAS = (0.8, 1.0)
# A candidate that passes every case, a proposed one among them, still waits this many
# attempts for a second sample to agree with it near the cases (agreement.py). On HumanEval
# 70-99, two of the four wrong merges passed the documented examples and every proposed
# case at once: right cases, too few of them. Past the wait, it is taken alone.
PEER_WAIT = 2


def implement(n: Nodes, s: FeatureState, files: dict[str, str],
              acc: dict[str, Any]) -> tuple[Candidate | None, list[str], dict[str, Any]]:
    """Attempts until a candidate passes; returns (the candidate to commit or None, what
    failed last, the acceptance record with any disputed cases)."""
    rnd = s.get("fix_round", 0)
    gw = n.env.gateway(s["run_id"])
    attempts = n.env.settings.gates.inner_attempts
    feedback: list[str] = []
    previous: Candidate | None = None
    skel = _skeleton(n, s, files)
    files = {**files, **skel.files}
    scratch = scratch_dir("shipyard-inner-")
    candidates = _earlier(n, s, acc, scratch)
    reask = Asker(n, s, gw, _stub(n, s, files, skel),
                  strings=bool(acc.get("returns_strings")),
                  documented=[c["expected"] for c in acc["cases"] if c["source"] in AUTHORITATIVE])

    behaviours: dict[int, tuple[str, ...] | None] = {}

    def behaviour(c: Candidate) -> tuple[str, ...] | None:
        if c.attempt not in behaviours:
            behaviours[c.attempt] = probing.behaviour(n, s, c, acc, scratch / f"v{c.attempt}")
        return behaviours[c.attempt]

    try:
        probing.require_importable(n, s, acc, scratch / "import")
        green_at: int | None = None  # the first attempt passing every case, a proposed one too
        for i in range(attempts + len(_EXTRAS)):
            if i < attempts:
                temperature, informed, plain = _next(i, previous, acc, rnd, reask.upheld)
            elif not any(c.authoritative_ok() and not c.problems for c in candidates):
                break  # the extras are second opinions: there is no first one to confirm
            else:
                temperature, informed, plain = _EXTRAS[i - attempts], False, i == attempts
            cand = _attempt(n, s, gw, i, temperature, feedback if informed else [], files,
                            acc, scratch, skel, plain=plain)
            cand.temperature = temperature
            candidates.append(cand)
            _record(n, s, rnd, cand, temperature)
            if green_at is None and _green(cand):
                green_at = i
            waited = green_at is not None and i - green_at >= PEER_WAIT
            if (cand.authoritative_ok() or waited) and (done := settle(
                    n, s, acc, candidates, behaviour=behaviour, waited=waited, reask=reask)):
                return done[0], done[1], taken(confirm(done[2], candidates))
            feedback = cand.problems or probing.case_feedback(cand.probe, reask.upheld)
            previous = cand
        if done := settle(n, s, acc, candidates, behaviour=behaviour, last=True, reask=reask):
            return done[0], done[1], taken(confirm(done[2], candidates))
        best = max(candidates, key=Candidate.score)
        kept = remember(dissent(confirm(acc, candidates), candidates), reask.heard)
        if lone := unconfirmed(candidates):
            return None, [lone], kept
        return None, (best.problems or parted(kept, candidates)
                      or probing.case_feedback(best.probe) or [split(candidates)]), kept
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _earlier(n: Nodes, s: FeatureState, acc: dict[str, Any], scratch: Path) -> list[Candidate]:
    """The samples of earlier rounds that passed every documented example and were not
    taken (disputes.dissent), probed again on this round's cases: they vote as before,
    numbered -1, -2, … (attempts of this round count from 0)."""
    out = []
    for k, e in enumerate(acc.get("earlier", [])):
        c = Candidate(attempt=-(k + 1), files=e["files"], temperature=e["temperature"],
                      prompt=e.get("prompt", ""))
        c.probe = probing.probe(n, s, c.files, acc, scratch / f"e{k}")
        c.problems = [c.probe.error] if c.probe.error else []
        out.append(c)
    return out


def _green(c: Candidate) -> bool:
    """Passes every case, and a case of the Test Engineer's is among them (or there is no
    documented example): taken once a second sample agrees, or alone after PEER_WAIT."""
    return not c.problems and c.probe is not None and c.probe.passed and corroborated(c)


def _next(i: int, previous: Candidate | None, acc: dict[str, Any], rnd: int = 0,
          upheld: AbstractSet[tuple[str, str]] = frozenset()
          ) -> tuple[float, bool, bool]:
    """(temperature, informed?, plain?) of attempt i. After a candidate that passes every
    documented example but fails a proposed case, the next attempt is a fresh sample: a
    second opinion on that case, which decides whether it is set aside (graphs/disputes.py);
    shown the case, it would chase it, and the Test Engineer's cases are often the wrong
    party — unless the Test Engineer, asked again, upheld it (graphs/reask.py): then the
    attempt is told of it, as of a failing documented example."""
    temperature, informed, plain = _SCHEDULE[i % len(_SCHEDULE)]
    if previous is not None and previous.authoritative_ok() and not previous.problems and any(
            c["source"] in AUTHORITATIVE for c in acc["cases"]):
        if probing.fails_upheld(previous, upheld):
            return max(temperature, 0.6), True, False
        if temperature == 0.0 and not rnd and previous.prompt.startswith("plain:"):
            # the other prompt's greedy answer, uninformed: the most likely second opinion to
            # be right, and one a sample of the first prompt is not (agreement._one_prompt)
            return 0.0, False, False
        # a slot that was to tell what went wrong has nothing to tell: the task prompt, so
        # that the second opinion can come from another prompt (agreement._one_prompt)
        return 0.8, False, plain and not informed
    if rnd and temperature == 0.0:  # greedy was tried last round: the same prompt, the
        return 0.8, False, plain     # same answer
    return temperature, informed, plain


def _skeleton(n: Nodes, s: FeatureState, shown: dict[str, str]) -> skeleton.Skeleton:
    """The stubs code writes for the new functions the request names (graphs/skeleton.py),
    plus the stubs of named functions already in the files shown (declared, not written)."""
    ws = n.env.workspace(s)
    names = named(s["feature"])
    skel = skeleton.build(s["feature"], names=names,
                          planned=[f for f in planned_files(s) if not is_test(f)],
                          read=lambda rel: existing(ws.path, rel),
                          defined=lambda name: defined_in_repo(ws.path, name, skip=set()),
                          refusal=ws.refusal)
    stubs = list(skel.stubs)
    for rel in shown:
        if rel.endswith(".py") and not is_test(rel) and rel not in skel.files:
            found = skeleton.stubbed(existing(ws.path, rel) or "") & names
            stubs += [(name, rel) for name in sorted(found - {nm for nm, _ in stubs})]
    return replace(skel, stubs=stubs)


def _reply(n: Nodes, s: FeatureState, gw: Any, temperature: float, feedback: list[str],
           files: dict[str, str], cases: list[dict[str, Any]],
           skel: skeleton.Skeleton, *, plain: bool = False
           ) -> tuple[Any, tuple[str, set[str]] | None, str]:
    """(the reply, the focus: the file and the functions it was shown, or None, a digest
    of the prompt: which task, with what).

    When the functions the request names live in one file, the attempt is posed as
    HumanEval poses a problem: that file's imports and those functions (skeleton.focus),
    "complete this function" — with what an earlier attempt got wrong, the findings and the
    human's revisions when there are any; `plain`, and with no findings or revisions to
    relay, the stub alone, even when the attempt was to be told what went wrong (its
    docstring carries the request: graphs/skeleton.py). Shown whole files,
    a 0.5B model copies them back (and runs out of tokens). Otherwise: the `implement`
    prompt with the files."""
    ctx = n.context(s, "implement", file_contents=files, cases=cases[:8], feedback=feedback,
                    findings=s.get("findings", []), criteria=not cases,
                    stubs=[f"`{name}` in {path}" for name, path in skel.stubs])
    root = n.env.workspace(s).path
    home, names = _focus_home(root, s["feature"], files, skel)
    if home:
        text = skel.files.get(home) or existing(root, home) or ""
        code = skeleton.focus(text, set(names))
        stubbed = bool(skeleton.stubbed(text) & set(names))
        # `plain` wins over `feedback`: the stub alone finds more (see _SCHEDULE). A function
        # that exists is posed so too, its docstring saying what is to change (`restated`)
        if plain and not (ctx["findings"] or ctx["revisions"]) and (posed := skeleton.posed(
                code if stubbed else skeleton.restated(code, set(names), s["feature"]))):
            return implementer.COMPLETE_PLAIN.run(
                gw, gate="G5", temperature=temperature, max_tokens=IMPLEMENT_MAX_TOKENS,
                prefill=skeleton.opening(posed, set(names)), stub_code=posed), \
                (home, set(names)), _digest("plain", posed)
        if code:
            shown = {"stub_path": home, "stub_code": code, "stub_names": names,
                     "stubbed": stubbed, **ctx}
            return implementer.COMPLETE.run(
                gw, gate="G5", temperature=temperature, max_tokens=IMPLEMENT_MAX_TOKENS,
                prefill=skeleton.opening(code, set(names)) if stubbed else "", **shown), \
                (home, set(names)), _digest("complete", shown)
    return implementer.IMPLEMENT.run(gw, gate="G5", temperature=temperature,
                                     max_tokens=IMPLEMENT_MAX_TOKENS, **ctx), None, \
        _digest("implement", ctx)


def _digest(task: str, shown: Any) -> str:
    """Which prompt an attempt answered: equal for equal prompts (the same task and
    material), whatever the temperature."""
    text = json.dumps([task, shown], sort_keys=True, default=str)
    return f"{task}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _stub(n: Nodes, s: FeatureState, files: dict[str, str], skel: skeleton.Skeleton
          ) -> tuple[str, str] | None:
    """(path, code) of the functions the request names as the Implementer is shown them
    (their file's imports, their stubs and docstrings); None when they live in several
    files."""
    root = n.env.workspace(s).path
    home, names = _focus_home(root, s["feature"], files, skel)
    code = skeleton.focus(skel.files.get(home) or existing(root, home) or "", set(names)) \
        if home else ""
    return (home, code) if home and code else None


def _focus_home(root: Path, feature: str, files: dict[str, str],
                skel: skeleton.Skeleton) -> tuple[str | None, list[str]]:
    """The one non-test file defining the functions the request names, and those names."""
    if skel.stubs:
        homes = {path for _, path in skel.stubs}
        return (homes.pop(), [name for name, _ in skel.stubs]) if len(homes) == 1 else (None, [])
    wanted = named(feature)
    found = {rel: sorted(wanted & defs(skel.files.get(rel) or existing(root, rel) or ""))
             for rel in files if rel.endswith(".py") and not is_test(rel)}
    found = {rel: names for rel, names in found.items() if names}
    if len(found) == 1:
        return next(iter(found.items()))
    return None, []


def _attempt(n: Nodes, s: FeatureState, gw: Any, i: int, temperature: float,
             feedback: list[str], files: dict[str, str],
             acc: dict[str, Any], scratch: Path, skel: skeleton.Skeleton, *,
             plain: bool = False) -> Candidate:
    cases = [c for c in acc["cases"] if c not in acc["disputed"]]
    # With executable cases, the planner's prose criteria are left out: a 0.5B model follows
    # their noise ("use set operations") over the request and the cases that decide.
    reply, focus, prompt = _reply(n, s, gw, temperature, feedback, files, cases, skel,
                                  plain=plain)
    cand = from_reply(n, s, i, reply, focus, acc, scratch, skel)
    cand.prompt = prompt
    return cand


def _record(n: Nodes, s: FeatureState, rnd: int, c: Candidate, temperature: float) -> None:
    results = [] if c.probe is None else [
        {"call": r.call, "expected": r.expected, "source": r.source, "ok": r.ok, "got": r.got}
        for r in c.probe.results]
    passed = bool(c.probe and c.probe.passed and not c.problems)
    n.env.ledger.event(s["run_id"], "inner_attempt", gate="G5", round=rnd, attempt=c.attempt,
                       temperature=temperature, files=sorted(c.files), problems=c.problems,
                       results=results, passed=passed)
    n.env.say(f"G5: attempt {c.attempt + 1} → "
              + ("green" if passed else (c.problems[0][:120] if c.problems else
                                         f"{len(c.probe.failures) if c.probe else '?'} "
                                         f"case(s) fail")))
