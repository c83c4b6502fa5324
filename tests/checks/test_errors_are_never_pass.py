"""A check that cannot do its job is `error` — never `pass` — and blocks by default."""

from __future__ import annotations

import time

from shipyard.runtime.checks import CheckPolicy

HANGING_TEST = "import time\n\n\ndef test_hangs():\n    time.sleep(120)\n"


def test_missing_tool_is_error_not_pass(repo, monkeypatch):
    from shipyard.runtime.checks import lint

    monkeypatch.setattr(lint, "tool", lambda name: "/nonexistent/bin/ruff")
    repo.write("new.py", "x = 1\n").commit()
    report = repo.check("lint")
    result = report.checks[0]
    assert result.status == "error" and result.blocks and not report.passed
    assert "not installed" in result.findings[0].message


def test_missing_scanner_in_sast_is_error_not_pass(repo, monkeypatch):
    from shipyard.runtime.checks import sast

    monkeypatch.setattr(sast, "tool", lambda name: f"/nonexistent/bin/{name}")
    repo.write("new.py", "x = 1\n").commit()
    assert repo.check("sast").checks[0].status == "error"


def test_hanging_test_suite_is_error_and_killed_at_the_timeout(repo):
    repo.write("tests/test_hang.py", HANGING_TEST).commit()
    started = time.monotonic()
    report = repo.check("tests", policy=CheckPolicy(timeout_s=3))
    assert time.monotonic() - started < 30
    result = report.checks[0]
    assert result.status == "error" and "timed out" in result.summary
    assert not report.passed


def test_missing_advisory_database_is_error_naming_the_fix(repo, tmp_path):
    repo.write("requirements.txt", "jinja2==2.10\n").commit()
    report = repo.check("deps", policy=CheckPolicy(advisories_db=str(tmp_path / "none.db"),
                                                   advisories_missing="block"))
    result = report.checks[0]
    assert result.status == "error" and result.blocks
    assert "shipyard advisories import" in result.findings[0].message


def test_tooling_status_reports_a_missing_advisory_database(tmp_path):
    from shipyard.runtime.checks import tooling_status

    # sandbox "off": this test is about the database, whether or not bwrap is installed
    result = tooling_status(CheckPolicy(advisories_db=str(tmp_path / "none.db"), sandbox="off"))
    assert result.status == "fail"
    assert [f.rule for f in result.findings] == ["tooling.advisories"]


def test_tooling_status_passes_when_everything_is_installed(advisory_db):
    from shipyard.runtime.checks import tooling_status

    assert tooling_status(CheckPolicy(advisories_db=str(advisory_db), sandbox="off")).status \
        == "pass"


def test_tooling_status_reports_a_missing_sandbox(advisory_db, monkeypatch):
    from shipyard.runtime import sandbox
    from shipyard.runtime.checks import tooling_status

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    result = tooling_status(CheckPolicy(advisories_db=str(advisory_db)))
    assert [f.rule for f in result.findings] == ["tooling.sandbox"]
    assert "apt-get install bubblewrap" in result.findings[0].message
