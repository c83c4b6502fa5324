"""A failed run of any kind still ends through G8, and `status` says what failed and what
`resume` would do (issue 13).

A model reply that stays invalid after its repair attempt, a spent budget, or a crash
in a node: each leaves DORA, cost and `run_ended` rows and a postmortem, and keeps the
failed step pending so that `resume` re-runs just that step.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

NOT_JSON = {"raw": "not json"}  # the last reply repeats: the repair attempt fails too


def _start(cli, repo: Path) -> dict:
    code, out, err = cli("run-feature", "Add a multiply(a, b) helper", "--repo", repo, "--json")
    result = json.loads(out.strip().splitlines()[-1])
    assert code == result["exit_code"], err
    return result


def _events(repo: Path, run_id: str) -> list[tuple[str, str | None, dict]]:
    with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
        rows = db.execute("select kind, gate, data from events where run_id = ? order by seq",
                          (run_id,)).fetchall()
    return [(kind, gate, json.loads(data or "{}")) for kind, gate, data in rows]


def _g8_rows(repo: Path, run_id: str) -> dict[str, dict]:
    return {kind: data for kind, gate, data in _events(repo, run_id)
            if kind in ("dora", "cost", "run_ended") and gate == "G8"}


def test_an_unrepairable_model_reply_fails_the_run_through_g8(make_repo, cli, replies):
    replies["planner.delivery"] = [NOT_JSON]
    repo = make_repo(human=[])
    r = _start(cli, repo)
    run_id = r["run_id"]
    assert (r["status"], r["gate"], r["exit_code"]) == ("failed", "G4", 1)

    g8 = _g8_rows(repo, run_id)
    assert set(g8) == {"dora", "cost", "run_ended"}
    assert g8["dora"]["change_failed"] is True and g8["dora"]["deployed"] is False
    assert g8["cost"]["llm_calls"] >= 2
    assert g8["run_ended"]["status"] == "failed"
    postmortem = repo / ".shipyard" / "runs" / run_id / "postmortem.md"
    assert r["postmortem"] == str(postmortem)
    text = postmortem.read_text()
    assert "Ended at: G4 with status **failed**" in text and "repair attempt" in text


def test_status_of_a_failed_run_says_what_failed_and_what_resume_would_do(make_repo, cli,
                                                                          replies):
    replies["planner.delivery"] = [NOT_JSON]
    repo = make_repo(human=[])
    run_id = _start(cli, repo)["run_id"]

    code, out, err = cli("status", run_id, "--repo", repo)
    assert code == 1 and out.strip() == run_id
    assert err.startswith(f"✘ run {run_id} failed at G4: The delivery plan (Planner) "
                          f"failed: planner (scripted-test) returned output that does not "
                          f"match")
    assert (f"`shipyard resume {run_id}` re-runs that step (g4_plan) with shipyard.toml "
            f"and the models as they are then; everything before it is kept.") in err
    code, out, _ = cli("status", run_id, "--repo", repo, "--json")
    status = json.loads(out)
    assert (status["status"], status["gate"], status["next"]) == ("failed", "G4", ["g4_plan"])
    assert status["error"].startswith("ModelOutputInvalid: ")


def test_resume_after_a_model_failure_re_runs_only_the_failed_step(make_repo, cli, replies,
                                                                  tmp_path):
    replies["planner.delivery"] = [NOT_JSON]
    repo = make_repo(human=[])
    run_id = _start(cli, repo)["run_id"]
    script = tmp_path / "repo-script.yaml"
    doc = yaml.safe_load(script.read_text())
    doc["replies"]["planner.delivery"] = [NOT_JSON, NOT_JSON, {
        "tasks": [{"title": "Add multiply", "files": ["calc/core.py"]}],
        "rollout": "release", "rollback": "revert the merge"}]
    script.write_text(yaml.safe_dump(doc, sort_keys=False))

    before = _calls_by_task(repo, run_id)
    code, out, err = cli("resume", run_id, "--repo", repo, "--json", "--no-input")
    r = json.loads(out.strip().splitlines()[-1])
    assert (code, r["status"], r["gate"]) == (3, "waiting", "G6"), err
    kinds = [kind for kind, _, _ in _events(repo, run_id)]
    assert kinds.index("node_failed") < kinds.index("resumed")
    assert kinds.count("run_ended") == 1  # the failure's G8; the run has not ended again
    after = _calls_by_task(repo, run_id)
    assert after["planner.delivery"] == before["planner.delivery"] + 1
    for task in ("planner.onepager", "planner.rfc", "test.plan"):
        assert after[task] == before[task], task  # G0–G4 were not re-run


def _calls_by_task(repo: Path, run_id: str) -> dict[str, int]:
    with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
        return dict(db.execute("select agent || '.' || task, count(*) from llm_calls "
                               "where run_id = ? group by 1", (run_id,)).fetchall())


def test_a_spent_budget_fails_the_run_through_g8_naming_the_fix(make_repo, cli):
    repo = make_repo(price_as="gpt-4o", budget=0.0001, human=[])
    r = _start(cli, repo)
    assert (r["status"], r["exit_code"]) == ("failed", 1)
    assert "raise [budget] usd" in r["reason"] and "shipyard resume" in r["reason"]
    assert set(_g8_rows(repo, r["run_id"])) == {"dora", "cost", "run_ended"}


def test_a_crash_inside_a_node_fails_the_run_through_g8(make_repo, cli, monkeypatch):
    from shipyard.graphs.nodes import Nodes

    def crash(self, s):
        raise KeyError("head")

    monkeypatch.setattr(Nodes, "g5_checks", crash)
    repo = make_repo(human=[])
    r = _start(cli, repo)
    assert (r["status"], r["gate"]) == ("failed", "G5")
    assert r["reason"].startswith("The checks on the diff failed: it crashed with "
                                  "KeyError: 'head'")
    assert set(_g8_rows(repo, r["run_id"])) == {"dora", "cost", "run_ended"}
    assert (repo / ".shipyard" / "runs" / r["run_id"] / "postmortem.md").is_file()


def test_a_check_whose_tool_is_missing_ends_the_run_naming_the_install_not_a_fix_round(
        make_repo, cli, monkeypatch):
    from shipyard.runtime.checks import lint

    # ruff missing where shipyard runs: the Implementer cannot change that, so a fix round
    # would only spend model time before failing the same way
    monkeypatch.setattr(lint, "tool", lambda name: "/nonexistent/bin/ruff")
    repo = make_repo(human=[], checks=["lint"])
    r = _start(cli, repo)
    assert r["gate"] == "G2"  # G2 asks about the missing scanner; the human goes on anyway
    code, out, _ = cli("approve", r["run_id"], "--repo", repo, "--as", "dri@example.com",
                       "--json")
    r = json.loads(out.strip().splitlines()[-1])
    assert (r["status"], r["exit_code"], code) == ("failed", 1, 1)
    assert "check lint could not run: ruff is not installed" in r["reason"]
    assert "pip install ruff" in r["reason"] and "No change to the code" in r["reason"]
    rounds = [d["round"] for kind, _, d in _events(repo, r["run_id"]) if kind == "g5_decision"]
    assert rounds == [0]
    assert set(_g8_rows(repo, r["run_id"])) == {"dora", "cost", "run_ended"}
