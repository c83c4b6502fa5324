"""The pipeline with the real tool checks: evidence decides, not what a model says."""

from __future__ import annotations

import json
import sqlite3

from conftest import CALC_CORE_WITH_MULTIPLY, git

ALL_CHECKS = ["tests", "lint", "sast", "secrets", "deps", "licenses", "sbom", "hygiene"]

UNSAFE_CORE = CALC_CORE_WITH_MULTIPLY + '''

def evaluate(expression: str) -> int:
    """Evaluate an arithmetic expression."""
    return eval(expression)
'''
# the fix round removes the function with a SEARCH/REPLACE hunk
REMOVE_EVALUATE = """FILE: calc/core.py
```python
<<<<<<< SEARCH


def evaluate(expression: str) -> int:
    \"\"\"Evaluate an arithmetic expression.\"\"\"
    return eval(expression)
=======
>>>>>>> REPLACE
```
"""
EVAL_LINE = 1 + next(i for i, line in enumerate(UNSAFE_CORE.splitlines()) if "eval(" in line)


def _run_to_end(cli, repo) -> dict:
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    r = json.loads(out.splitlines()[-1])
    while r["status"] == "waiting":
        _, out, _err = cli("approve", r["run_id"], "--repo", repo, "--as", "dana@example.com",
                          "--json")
        r = json.loads(out.splitlines()[-1])
    return r


def test_full_policy_run_merges_and_its_provenance_verifies(make_repo, cli):
    repo = make_repo(human=["G6"], checks=ALL_CHECKS)
    r = _run_to_end(cli, repo)
    assert r["status"] == "merged", r["reason"]
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    ran = {row[0] for row in db.execute("select name from tool_runs where gate='G5'")}
    assert ran == set(ALL_CHECKS) | {"acceptance"}  # and the G3 acceptance tests survived
    envelope = repo / ".shipyard" / "attestations" / f"{r['run_id']}.intoto.jsonl"
    assert envelope.exists()
    code, _, err = cli("verify", "--repo", repo)
    assert code == 0, err
    # tampering with the signed statement is caught
    doc = json.loads(envelope.read_text().splitlines()[0])
    doc["payload"] = doc["payload"][:-8] + ("A" * 8 if not doc["payload"].endswith("A" * 8)
                                            else "B" * 8)
    envelope.write_text(json.dumps(doc) + "\n")
    code, _, err = cli("verify", "--repo", repo)
    assert code == 1 and ("attestation" in err.lower() or "signature" in err.lower())


def test_llm_approval_never_overrides_a_failing_sast_check(make_repo, cli, replies):
    replies["implementer.implement"] = [
        {"raw": f"FILE: calc/core.py\n```python\n{UNSAFE_CORE}```\n"},
        {"raw": REMOVE_EVALUATE}]
    repo = make_repo(human=["G6"], checks=["tests", "lint", "sast", "secrets"])
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    r = json.loads(out.splitlines()[-1])
    assert (r["status"], r["gate"]) == ("waiting", "G6")
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    first = db.execute("select status, findings from tool_runs where name='sast' and gate='G5' "
                       "order by seq").fetchall()
    assert first[0][0] == "fail" and first[-1][0] == "pass"
    finding = json.loads(first[0][1])[0]
    assert finding["path"] == "calc/core.py" and finding["line"] == EVAL_LINE
    decisions = [json.loads(d[0]) for d in db.execute(
        "select data from events where kind='g5_decision' order by seq")]
    assert decisions[0]["verdict"] == "block"  # although all six reviewers approved
    assert any("check sast fail" in reason for reason in decisions[0]["reasons"])
    prompts = [m for (m,) in db.execute("select messages from llm_calls "
                                        "where agent='implementer' order by seq")]
    # the finding exists only after round 0's commit: a prompt carrying it is the fix round's
    assert any(f"calc/core.py:{EVAL_LINE}" in p for p in prompts)
    assert "eval" not in git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
