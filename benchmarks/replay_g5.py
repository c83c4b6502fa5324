"""Replay G5's choice among candidates on the repositories delivery.py kept: no model.

    python benchmarks/replay_g5.py /tmp/shipyard-delivery-*     # the work folders it left
    python benchmarks/replay_g5.py /tmp/shipyard-delivery-ab12cd --json out.json

Which of the Implementer's samples merge is decided by agreement (graphs/variants.py,
graphs/agreement.py), and measuring a change to it on the model takes an hour for 30
problems. Every repository delivery.py leaves keeps its ledger: each Implementer reply,
what each attempt passed, which cases were set aside. This applies each reply again to the
problem's stub (agents/edits.py, as G5 does), runs the candidates that passed every case
left on the variant inputs of the code as it is now — and on the inputs of the cases set
aside, held to the value the Test Engineer's answers resolve where the samples split — in
the sandbox (runtime/probe.py), lets agreement.py group them once the attempts
are spent, and scores the candidate taken with the problem's check(), which the pipeline
never sees. It prints how many runs would merge right, merge wrong, split, or have no
candidate to take, and each run whose outcome differs from the one its ledger recorded.

What it cannot replay, so a change it favours is still measured on the model: the
samples a run would draw once a decision moves (a split run would go on sampling), the
one-prompt rule (the ledger keeps no prompt digest), and the six-sample limit on earlier
rounds' voters (all of a run's voters vote here).
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delivery import passes, problems

from shipyard.agents.edits import EditError, apply_edits, parse_blocks
from shipyard.graphs.agreement import agreed
from shipyard.graphs.candidate import Candidate
from shipyard.graphs.disputes import (
    _against,
    _outcome,
    _resolved,
    parting,
    standing,
    with_set_aside,
)
from shipyard.graphs.lint import import_stdlib
from shipyard.graphs.variants import variants
from shipyard.runtime.probe import CaseResult, Probe, probe_cases
from shipyard.runtime.replay import _recorded_prefill

_problems = functools.cache(problems)  # the HumanEval data, read once for every run
_QUIET = SimpleNamespace(env=SimpleNamespace(ledger=SimpleNamespace(event=lambda *a, **k: None)))


def runs(folders: list[Path]) -> list[Path]:
    """The problem repositories (he000 …) in delivery.py's work folders."""
    return sorted(r for f in folders for r in f.glob("he[0-9][0-9][0-9]")
                  if (r / ".shipyard" / "ledger.db").is_file())


def replay(repo: Path, scratch: Path) -> dict | None:
    """The outcome the ledger recorded and the one G5's code gives now; None when the
    ledger has no G5 (the run ended earlier) or its replies and attempts do not pair up."""
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    events = [(k, json.loads(d)) for k, d in db.execute(
        "select kind, data from events order by seq")]
    # a reply that continues a prefill (the function's opening, graphs/skeleton.py) is
    # recorded without it: joined again as the gateway joins them (runtime/models.py)
    replies = [_recorded_prefill({"params": params}) + r for (r, params) in db.execute(
        "select coalesce(response, ''), params from llm_calls where "
        "gate = 'G5' and agent = 'implementer' order by seq")]
    attempts = [d for k, d in events if k == "inner_attempt"]
    acc = next((d for k, d in events if k == "acceptance_cases"), None)
    if acc is None or not attempts or len(replies) != len(attempts):
        return None
    stub = _git(repo, "show", f"{_git(repo, 'rev-list', '--max-parents=0', 'main').strip()}"
                              ":solution.py")
    resolutions = _resolutions(events, [d for k, d in events
                                        if k == "acceptance_case_disputed"])
    # a case the samples part on stands unless an answer resolved the split (disputes.parting)
    disputed = [d for k, d in events if k == "acceptance_case_disputed"
                and (not parting(_against(d["got"])) or d["call"] in resolutions)]
    aside = {(d["call"], d["expected"]) for d in disputed}
    cands = [c for k, (reply, a) in enumerate(zip(replies, attempts, strict=True))
             if (c := _candidate(k, reply, a, stub)) is not None]
    live = standing(cands, aside, resolutions)
    calls = variants([c["call"] for c in acc["cases"]])

    def near(c: Candidate) -> tuple[str, ...] | None:
        ran = probe_cases(scratch / f"t{c.attempt}", [
            {"call": call, "expected": "None", "source": "variant", "imports": acc["imports"]}
            for call in calls], scratch=scratch / f"o{c.attempt}", per_case_s=1, timeout_s=20)
        return None if ran.error else tuple(r.got for r in ran.results)

    for c in live:
        tree = scratch / f"t{c.attempt}"
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "solution.py").write_text(c.files["solution.py"])
    p = _problems()[int(repo.name[2:])]
    taken = agreed(_QUIET, {"run_id": ""}, live, with_set_aside(near, aside),  # type: ignore[arg-type]
                    last=True, waited=False)
    now = ("no candidate" if taken is None else
           "merged right" if passes(taken.files["solution.py"], p) else "merged WRONG")
    status = next((d["status"] for k, d in reversed(events) if k == "run_ended"), "?")
    merged = _git(repo, "show", "main:solution.py") if status == "merged" else None
    then = ("no candidate" if merged is None else
            "merged right" if passes(merged, p) else "merged WRONG")
    return {"repo": str(repo), "problem": p["task_id"], "then": then, "now": now,
            "voters": len(live), "inputs": len(calls) + len(aside)}


def _resolutions(events: list[tuple[str, dict]], disputed: list[dict]) -> dict[str, str]:
    """The value each disputed call must return (disputes._resolved), from every answer the
    Test Engineer gave when asked again — all rounds together, as G5 remembers them."""
    heard: dict[str, list[str]] = {}
    for kind, d in events:
        if kind == "acceptance_case_reasked":
            heard.setdefault(d["call"], []).extend(d["answers"])
    return {d["call"]: value for d in disputed if (value := _resolved(
        {_outcome(g) for g in _against(d["got"])}, heard.get(d["call"], []))) is not None}


def _candidate(k: int, reply: str, attempt: dict, stub: str) -> Candidate | None:
    """The reply applied to the stub as G5 applies it, with the results its ledger row
    recorded; None when it did not apply."""
    try:
        applied = apply_edits(parse_blocks(reply), lambda p: stub if p == "solution.py" else None,
                              default_path="solution.py")
    except EditError:
        return None
    code = applied.files.get("solution.py")
    if code is None or applied.problems:
        return None
    c = Candidate(attempt=k, files={"solution.py": import_stdlib(code)},
                  temperature=attempt["temperature"], problems=list(attempt["problems"]))
    c.probe = Probe(results=tuple(CaseResult(**{f: r[f] for f in ("call", "expected", "source",
                                                                  "ok", "got")})
                                  for r in attempt["results"]))
    return c


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=False).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path,
                    help="delivery.py work folders (shipyard-delivery-*), or problem repos' parents")
    ap.add_argument("--json", dest="json_out", default=None, help="write every run's row here")
    args = ap.parse_args()
    if missing := [str(f) for f in args.folders if not f.is_dir()]:
        sys.exit(f"not a folder: {', '.join(missing)} (pass the shipyard-delivery-* folders "
                 f"benchmarks/delivery.py left in the temp directory)")
    repos = runs(args.folders)
    if not repos:
        sys.exit("no problem repositories (he000 …) with a ledger in those folders")
    rows = []
    with tempfile.TemporaryDirectory(prefix="shipyard-replay-") as tmp:
        for k, repo in enumerate(repos):
            row = replay(repo, Path(tmp) / str(k))
            if row is not None:
                rows.append(row)
                if row["then"] != row["now"]:
                    print(f"{row['problem']} ({repo.parent.name}): {row['then']} -> {row['now']}",
                          flush=True)
            if (k + 1) % 25 == 0:
                print(f"... {k + 1}/{len(repos)} repositories", file=sys.stderr, flush=True)
    print(f"\n{len(rows)} runs replayed ({len(repos) - len(rows)} with no G5 to replay)")
    print("| outcome | recorded | G5 now |\n|---|---|---|")
    then, now = Counter(r["then"] for r in rows), Counter(r["now"] for r in rows)
    for outcome in ("merged right", "merged WRONG", "no candidate"):
        print(f"| {outcome} | {then[outcome]} | {now[outcome]} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
