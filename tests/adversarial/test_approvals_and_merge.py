"""Items 2, 7, 8 and the `verify RUN` bug: what is approved is what merges, and the
evidence of it cannot be forged or quietly removed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import MULTIPLY_EDIT

from shipyard.runtime import keys
from shipyard.runtime.ledger import Ledger, approval_payload

# Covers the code (so coverage does not drop), asserts nothing.
WEAK_TEST = "from calc.core import multiply\n\n\ndef test_multiply():\n    multiply(0, 0)\n"


def _run(cli, *args):
    code, out, err = cli(*args, "--json")
    return code, json.loads(out.splitlines()[-1]), err


def _to_g6(cli, repo):
    code, r, _ = _run(cli, "run-feature", "Add multiply", "--repo", repo)
    assert (code, r["gate"]) == (3, "G6"), r
    return r["run_id"]


def _worktree(repo: Path, run_id: str) -> Path:
    out = subprocess.run(["git", "-C", str(repo), "worktree", "list", "--porcelain"],
                         capture_output=True, text=True, check=True).stdout
    return next(Path(line.split(" ", 1)[1]) for line in out.splitlines()
                if line.startswith("worktree ") and line.endswith(run_id))


def _merged(cli, repo):
    run_id = _to_g6(cli, repo)
    assert _run(cli, "approve", run_id, "--repo", repo)[1]["status"] == "merged"
    return run_id


def _verify_fails_with(cli, repo, problem: str) -> None:
    code, report, _ = _run(cli, "verify", "--repo", repo)
    assert code == 1
    assert any(problem in p for p in report["problems"]), report["problems"]


def test_the_signing_key_is_not_kept_next_to_the_ledger(make_repo, cli):
    repo = make_repo(human=["G6"])
    _merged(cli, repo)
    assert not list((repo / ".shipyard").rglob("*.pem")), "a key sits next to what it signs"
    assert (keys.key_dir() / keys.PRIVATE).is_file()


def test_an_approval_signed_with_a_key_planted_in_the_repo_fails_verify(make_repo, cli):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    repo = make_repo(human=["G6"])
    run_id = _merged(cli, repo)
    planted = Ed25519PrivateKey.generate()
    payload = approval_payload(run_id=run_id, gate="G6", decision="approve", who="mallory",
                               comment="", head="0" * 40)
    Ledger(repo / ".shipyard" / "ledger.db").append(
        "approvals", run_id=run_id, gate="G6", decision="approve", who="mallory", comment="",
        head="0" * 40, signature=base64.b64encode(planted.sign(payload)).decode())
    _verify_fails_with(cli, repo, "signature does not match")


def test_the_g6_approval_signs_the_head_it_approved(make_repo, cli):
    repo = make_repo(human=["G6"])
    run_id = _merged(cli, repo)
    db = Ledger(repo / ".shipyard" / "ledger.db")
    row = next(r for r in db.rows("approvals", run_id=run_id) if r["gate"] == "G6")
    assert row["head"]
    fields = {k: row[k] for k in ("run_id", "gate", "decision", "who", "comment")}
    pub = keys.load_public_key(repo)
    assert keys.verify_with(pub, approval_payload(**fields, head=row["head"]), row["signature"])
    assert not keys.verify_with(pub, approval_payload(**fields, head="f" * 40), row["signature"])


def test_g7_refuses_to_merge_a_head_other_than_the_one_approved(make_repo, cli):
    repo = make_repo(human=["G6"])
    run_id = _to_g6(cli, repo)
    wt = _worktree(repo, run_id)
    (wt / "calc" / "backdoor.py").write_text("import os\n")
    subprocess.run(["git", "-C", str(wt), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(wt), "commit", "-qm", "sneak in after G6"], check=True)
    code, r, _ = _run(cli, "approve", run_id, "--repo", repo)
    assert code == 1 and r["status"] == "failed", r
    assert "moved after the G6 approval" in r["reason"] and "backdoor.py" in r["reason"]
    assert "backdoor" not in subprocess.run(["git", "-C", str(repo), "log", "--stat", "main"],
                                            capture_output=True, text=True, check=True).stdout


def test_a_deleted_attestation_fails_verify_for_a_merged_run(make_repo, cli):
    repo = make_repo(human=["G6"])
    run_id = _merged(cli, repo)
    assert _run(cli, "verify", "--repo", repo)[0] == 0
    (repo / ".shipyard" / "attestations" / f"{run_id}.intoto.jsonl").unlink()
    _verify_fails_with(cli, repo, "merged but its attestation")


def test_verify_of_a_run_waiting_at_a_gate_is_not_a_tamper_alarm(make_repo, cli):
    repo = make_repo(human=["G6"])
    run_id = _to_g6(cli, repo)
    code, report, _ = _run(cli, "verify", run_id, "--repo", repo)
    assert code == 0, report["problems"]
    assert run_id in report["not_merged"]
    code, _, err = cli("verify", run_id, "--repo", repo)
    assert code == 0 and "has not merged" in err


def test_the_implementer_cannot_rewrite_the_g3_acceptance_test(make_repo, cli, replies):
    # the Implementer's reply also "fixes" the acceptance test into one that asserts nothing
    replies["implementer.implement"] = [{"raw": MULTIPLY_EDIT + "\nFILE: "
                                         "tests/test_multiply_acceptance.py\n```python\n"
                                         + WEAK_TEST + "```\n"}]
    repo = make_repo(human=["G6"])
    _, r, _ = _run(cli, "run-feature", "Add multiply", "--repo", repo)
    assert r["status"] == "failed" and "acceptance" in r["reason"], r
    assert "tests/test_multiply_acceptance.py" in r["reason"]
    branch = f"shipyard/{r['run_id']}"
    test = subprocess.run(["git", "-C", str(repo), "show",
                           f"{branch}:tests/test_multiply_acceptance.py"],
                          capture_output=True, text=True, check=True).stdout
    assert "multiply(3, 4)" in test and "12" in test  # G3's test, untouched


def test_a_test_changed_after_g3_fails_the_acceptance_check(tmp_path):
    """Defence in depth: whatever commits a change to a G3 test (not the Implementer's
    edits, which cannot), the acceptance check at G5/G6 names it."""
    from shipyard.runtime.acceptance import check_acceptance
    from shipyard.runtime.workspace import Git

    repo = tmp_path / "r"
    repo.mkdir()

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                               "user.email=t@example.com", *a], check=True,
                              capture_output=True, text=True).stdout

    git("init", "-q", "-b", "main")
    (repo / "a.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    base = git("rev-parse", "HEAD").strip()
    (repo / "tests").mkdir()
    (repo / "tests" / "test_a.py").write_text("def test_a():\n    assert 1 == 1\n")
    git("add", "-A")
    git("commit", "-qm", "g3\n\nShipyard-Step: g3-tests")
    (repo / "tests" / "test_a.py").write_text(WEAK_TEST)
    git("add", "-A")
    git("commit", "-qm", "weaken")
    result = check_acceptance(Git(repo), base, git("rev-parse", "HEAD").strip(), None,
                              tests_ran=False)
    assert result.status == "fail"
    assert "acceptance.rewritten" in [f.rule for f in result.findings]
