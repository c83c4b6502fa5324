"""The gate as a whole: a clean change passes, the JSON shape, nothing written, the registry."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shipyard.cli.gates import app
from shipyard.errors import UserError
from shipyard.runtime.checks import (
    ALL_CHECKS,
    CheckPolicy,
    CheckResult,
    register_check,
    registered_checks,
    run_checks,
)

MUL = '''

def mul(a: int, b: int) -> int:
    return a * b
'''

TEST_MUL = '''\
from app import mul


def test_mul():
    assert mul(2, 3) == 6
'''


def test_clean_change_passes_every_check(repo, advisory_db):
    repo.write("app.py", (repo.path / "app.py").read_text() + MUL)
    repo.write("tests/test_mul.py", TEST_MUL)
    repo.commit("add mul")
    seen: list[tuple[str, str | None]] = []
    report = run_checks(repo.path, repo.base, "HEAD", CheckPolicy(advisories_db=str(advisory_db)),
                        on_progress=lambda n, r: seen.append((n, r and r.status)))
    assert [c.name for c in report.checks] == list(ALL_CHECKS)
    assert {c.name: c.status for c in report.checks} == dict.fromkeys(ALL_CHECKS, "pass"), \
        [c for c in report.checks if c.status != "pass"]
    assert report.passed
    assert sorted(seen, key=str) == sorted([(n, None) for n in ALL_CHECKS]
                                           + [(n, "pass") for n in ALL_CHECKS], key=str)


def test_checks_write_nothing_into_the_target_repo(repo, advisory_db):
    repo.write("app.py", (repo.path / "app.py").read_text() + MUL).commit()
    run_checks(repo.path, repo.base, "HEAD", CheckPolicy(advisories_db=str(advisory_db)))
    assert repo.git("status", "--porcelain", "--ignored") == ""


def test_json_output_has_exactly_the_documented_shape(repo):
    repo.write("config.py", 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n').commit()
    res = CliRunner().invoke(app, ["check", "--repo", str(repo.path), "--base", repo.base,
                                   "--json", "--only", "lint,secrets"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == {"passed", "base", "head", "checks"}
    assert doc["passed"] is False and len(doc["base"]) == 40 and len(doc["head"]) == 40
    assert [c["name"] for c in doc["checks"]] == ["lint", "secrets"]
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "blocking", "findings", "evidence", "duration_s"}
        for f in c["findings"]:
            assert set(f) == {"rule", "severity", "path", "line", "message", "fails",
                              "new"}
        for e in c["evidence"]:
            assert set(e) == {"path", "sha256"}


def test_cli_exit_codes_are_zero_for_pass_and_two_for_usage_errors(repo):
    repo.write("app.py", (repo.path / "app.py").read_text() + MUL).commit()
    ok = CliRunner().invoke(app, ["check", "--repo", str(repo.path), "--only", "lint"])
    assert ok.exit_code == 0, ok.output
    assert "policy" in ok.stdout and "lint" in ok.stdout
    bad = CliRunner().invoke(app, ["check", "--repo", str(repo.path), "--only", "nope"])
    assert bad.exit_code == 2 and "unknown check" in bad.stderr
    ref = CliRunner().invoke(app, ["check", "--repo", str(repo.path), "--base", "no-such-ref"])
    assert ref.exit_code == 2 and "not a commit" in ref.stderr


def test_unknown_check_name_is_a_user_error(repo):
    with pytest.raises(UserError, match="unknown check"):
        run_checks(repo.path, repo.base, "HEAD", CheckPolicy(), only=["nope"])


def test_third_party_check_registers_and_runs(repo):
    def always_fails(ctx) -> CheckResult:
        return CheckResult(name="custom", status="fail")

    register_check("custom", always_fails)
    try:
        report = run_checks(repo.path, repo.base, "HEAD", CheckPolicy(blocking=["custom"]),
                            only=["custom"])
        assert report.checks[0].status == "fail" and not report.passed
    finally:
        registered_checks().pop("custom")


def test_a_crashing_check_is_an_error_that_blocks(repo):
    def boom(ctx) -> CheckResult:
        raise RuntimeError("kaput")

    register_check("boom", boom)
    try:
        report = run_checks(repo.path, repo.base, "HEAD", CheckPolicy(blocking=["boom"]),
                            only=["boom"])
    finally:
        registered_checks().pop("boom")
    assert report.checks[0].status == "error" and report.checks[0].blocks and not report.passed
    assert "kaput" in report.checks[0].findings[0].message


def test_error_does_not_block_when_policy_says_so(repo):
    def broken(ctx) -> CheckResult:
        return CheckResult(name="broken", status="error")

    register_check("broken", broken)
    try:
        report = run_checks(repo.path, repo.base, "HEAD",
                            CheckPolicy(blocking=["broken"], error_blocks=False), only=["broken"])
    finally:
        registered_checks().pop("broken")
    assert report.passed and report.checks[0].status == "error"


def test_serial_and_parallel_runs_agree(repo):
    repo.write("app.py", (repo.path / "app.py").read_text() + MUL).commit()
    args = (repo.path, repo.base, "HEAD", CheckPolicy())
    par = run_checks(*args, only=["lint", "sast", "hygiene"])
    ser = run_checks(*args, only=["lint", "sast", "hygiene"], parallel=False)
    assert [(c.name, c.status) for c in par.checks] == [(c.name, c.status) for c in ser.checks]


def test_gates_check_refuses_an_empty_range_instead_of_passing_it(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = tmp_path / "one"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True,
                                    capture_output=True)
    run("init", "-q", "-b", "main")
    (repo / "app.py").write_text("x = eval(input())\n")
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "one")
    exe = str(Path(sys.executable).parent / "shipyard")
    proc = subprocess.run([exe, "gates", "check", "--repo", str(repo), "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "same commit" in proc.stderr and "--base" in proc.stderr
