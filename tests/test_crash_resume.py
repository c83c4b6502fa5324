"""A run survives the process: SIGKILL mid-run, then `resume` finishes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import git

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def _wait_for_event(repo: Path, kind: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    db_path = repo / ".shipyard" / "ledger.db"
    while time.monotonic() < deadline:
        if db_path.exists():
            try:
                with sqlite3.connect(db_path) as db:
                    if db.execute("select 1 from events where kind = ?", [kind]).fetchone():
                        return
            except sqlite3.OperationalError:
                pass  # table not created yet
        time.sleep(0.05)
    raise AssertionError(f"no {kind!r} event within {timeout}s")


def test_sigkill_mid_run_then_resume_finishes_with_no_duplicate_commit(make_repo, replies):
    slow_approve = {"delay_s": 4, "reply": {"verdict": "approve", "summary": "ok", "findings": []}}
    for role in ("security", "test", "sre", "governance", "finops", "docs"):
        replies[f"{role}.review"] = [slow_approve, {"verdict": "approve", "summary": "ok",
                                                     "findings": []}]
    repo = make_repo(human=["G6"])
    proc = subprocess.Popen([SHIPYARD, "run-feature", "Add multiply", "--repo", str(repo),
                             "--json", "--no-input"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_event(repo, "diff")  # the implementer's commit exists; reviewers are slow
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    run_id = json.loads(subprocess.run(
        [SHIPYARD, "runs", "--repo", str(repo), "--json"], capture_output=True, text=True,
        check=True).stdout)[0]["run_id"]
    status = subprocess.run([SHIPYARD, "status", run_id, "--repo", str(repo), "--json"],
                            capture_output=True, text=True, check=False)
    assert json.loads(status.stdout)["status"] == "failed"  # interrupted, resumable
    assert "resume" in json.loads(status.stdout)["reason"]

    resumed = subprocess.run([SHIPYARD, "resume", run_id, "--repo", str(repo), "--json",
                              "--no-input"], capture_output=True, text=True, timeout=300, check=False)
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (resumed.returncode, out["status"], out["gate"]) == (3, "waiting", "G6"), resumed.stderr

    branch_log = git(repo, "log", "--format=%(trailers:key=Shipyard-Step,valueonly)",
                     f"main..shipyard/{run_id}").split()
    assert branch_log.count("g5-implement-r0-v0") == 1
    assert branch_log.count("g3-tests") == 1
    with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
        implement_calls = db.execute(
            "select count(*) from llm_calls where agent='implementer'").fetchone()[0]
    # the committed step reused its recorded outputs: the green sample and the second one
    # that agreed with it (graphs/disputes.py), none sampled again
    assert implement_calls == 2

    approved = subprocess.run([SHIPYARD, "approve", run_id, "--repo", str(repo), "--json",
                               "--as", "bob@example.com"], capture_output=True, text=True,
                              timeout=300, check=False)
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout.strip().splitlines()[-1])["status"] == "merged"
    assert git(repo, "log", "--merges", "--oneline", "main").count("\n") == 1


def test_a_run_survives_its_worktree_being_deleted(make_repo, cli):
    import shutil

    repo = make_repo()
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    first = json.loads(out.splitlines()[-1])
    run_id = first["run_id"]
    _, out, _ = cli("approve", run_id, "--repo", repo, "--json")
    assert json.loads(out.splitlines()[-1])["gate"] == "G1"
    worktree = Path(json.loads(subprocess.run(
        [SHIPYARD, "log", run_id, "--repo", str(repo), "--json"], capture_output=True,
        text=True, check=True).stdout)[0]["worktree"])
    shutil.rmtree(worktree)
    for _ in range(2):
        _, out, err = cli("approve", run_id, "--repo", repo, "--json")
    assert json.loads(out.splitlines()[-1])["status"] == "merged", err


def test_two_concurrent_approvals_drive_the_run_once_and_status_says_running(make_repo,
                                                                              replies):
    # long enough for two more CLI processes to start on a loaded machine
    replies["planner.rfc"] = [{"delay_s": 20, "reply": replies["planner.rfc"][0]}]
    repo = make_repo()
    started = subprocess.run([SHIPYARD, "run-feature", "Add multiply", "--repo", str(repo),
                              "--json", "--no-input"], capture_output=True, text=True, check=False)
    run_id = json.loads(started.stdout.splitlines()[-1])["run_id"]
    first = subprocess.Popen([SHIPYARD, "approve", run_id, "--repo", str(repo), "--as", "a@x.io",
                              "--json", "--no-input"], stdout=subprocess.PIPE, text=True)
    _wait_for_approvals(repo, 1)
    second = subprocess.run([SHIPYARD, "approve", run_id, "--repo", str(repo), "--as", "b@x.io",
                             "--json", "--no-input"], capture_output=True, text=True, check=False)
    status = subprocess.run([SHIPYARD, "status", run_id, "--repo", str(repo), "--json"],
                            capture_output=True, text=True, check=False)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 3 and json.loads(out.splitlines()[-1])["gate"] == "G1"
    assert second.returncode == 2 and "being driven by another process" in second.stderr
    assert json.loads(status.stdout)["status"] == "running"
    with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
        assert db.execute("select count(*) from approvals").fetchone()[0] == 1
        assert db.execute("select count(*) from llm_calls where task='rfc'").fetchone()[0] == 1


def _wait_for_approvals(repo: Path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(repo / ".shipyard" / "ledger.db") as db:
            if db.execute("select count(*) from approvals").fetchone()[0] >= n:
                return
        time.sleep(0.05)
    raise AssertionError("approval never recorded")
