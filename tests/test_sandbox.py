"""Model-written code runs confined: it cannot touch the user's repository or outlive its run."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from shipyard.runtime.sandbox import bwrap_path

EVIL_CONFTEST = '''
import subprocess
import sys
from pathlib import Path

TARGETS = {TARGETS!r}
for name, path in TARGETS.items():
    try:
        Path(path).write_text("pwned " + name)
    except OSError:
        pass
try:
    key = Path(TARGETS["keydir"]).parent.joinpath("keys").glob("*")
    print("KEYS", [p.read_text()[:20] for p in key])
except OSError:
    pass
# a daemon that would act later, e.g. approve the G6 gate
subprocess.Popen([sys.executable, "-c",
                  "import time, pathlib; time.sleep(3); pathlib.Path({LATE!r}).write_text('late')"],
                 start_new_session=True)
'''


@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
def test_model_written_code_cannot_touch_the_users_repo_or_leave_a_daemon(
        make_repo, cli, replies, tmp_path):
    repo_dir = tmp_path / "repo"  # make_repo builds it here
    late = tmp_path / "late-daemon-wrote-this"
    targets = {"repo_file": str(repo_dir / "PWNED.txt"),
               "git_hook": str(repo_dir / ".git" / "hooks" / "post-commit"),
               "keydir": str(repo_dir / ".shipyard" / "x"),
               "home": str(Path.home() / "shipyard-pwned.txt")}
    conftest = EVIL_CONFTEST.replace("{TARGETS!r}", repr(targets)).replace("{LATE!r}", repr(str(late)))
    # the Implementer writes a module that attacks when imported, and imports it from the
    # code under test: the inner loop's probe and the tests check both run it, confined
    replies["implementer.implement"] = [{"raw": (
        "FILE: calc/evil.py\n```python\n" + conftest + "```\n\nFILE: calc/core.py\n```python\n"
        "import calc.evil\n\n_LOADED = calc.evil.TARGETS\n\n\n"
        "def multiply(a: int, b: int) -> int:\n    \"\"\"Return a * b.\"\"\"\n    return a * b\n```\n")}]
    # only the tests check: SAST would (rightly) block this module before we could look
    repo = make_repo(human=["G6"], checks=["tests"], extra="coverage_max_drop = 100\n")
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    result = json.loads(out.splitlines()[-1])
    assert result["gate"] == "G2"  # a human must acknowledge that SAST and secrets are off
    _, out, _ = cli("approve", result["run_id"], "--repo", repo, "--json")
    assert json.loads(out.splitlines()[-1])["gate"] == "G6"  # the tests themselves passed
    time.sleep(4)
    assert not (repo / "PWNED.txt").exists()
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    assert not (Path.home() / "shipyard-pwned.txt").exists()
    assert not late.exists(), "a process started by the tests outlived the check"
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    assert "PRIVATE KEY" not in json.dumps(db.execute("select * from tool_runs").fetchall())


def test_required_sandbox_without_bwrap_is_an_error_not_a_pass(make_repo, cli, monkeypatch):
    import shipyard.runtime.checks.tests as tests_check

    monkeypatch.setattr(tests_check, "bwrap_path", lambda: None)
    repo = make_repo(human=["G6"], checks=["tests", "sast", "secrets"],
                     extra='sandbox = "required"\n')
    _, out, _ = cli("run-feature", "Add multiply", "--repo", repo, "--json")
    result = json.loads(out.splitlines()[-1])
    if result["gate"] == "G2":  # on a machine without bwrap, G2 asks first
        _, out, _ = cli("approve", result["run_id"], "--repo", repo, "--json")
        result = json.loads(out.splitlines()[-1])
    assert result["status"] == "failed"
    assert "bubblewrap" in result["reason"]


def test_the_file_masking_credentials_is_one_per_user_not_one_left_per_run(
        tmp_path, monkeypatch):
    # every process used to leave its own /tmp/shipyard-empty-XXXX behind
    import tempfile

    from shipyard.runtime import sandbox

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sandbox, "_EMPTY", [])
    first = sandbox._empty_file()
    monkeypatch.setattr(sandbox, "_EMPTY", [])   # as a new process finds it
    assert sandbox._empty_file() == first and list(tmp_path.iterdir()) == [first]
    assert first.stat().st_size == 0 and not first.stat().st_mode & 0o222

    # one that is no longer empty and read-only is not mounted over anything
    first.chmod(0o644)
    first.write_text("token=abc\n")
    monkeypatch.setattr(sandbox, "_EMPTY", [])
    private = sandbox._empty_file()
    assert private != first and private.stat().st_size == 0
