"""DESIGN invariants 6-7: a check judges the change, and a failing check says why."""

from __future__ import annotations

from shipyard.runtime.checks import CheckPolicy, CheckResult, register_check
from shipyard.runtime.checks.base import Finding
from shipyard.runtime.checks.baseline import compare, fingerprint

LEGACY = '''\
"""Legacy module with an old lint problem and an old SAST problem."""
import os
import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)
'''


def _f(rule: str, line: int, message: str = "m") -> Finding:
    return Finding(rule=rule, severity="high", path="a.py", line=line, message=message)


def test_fingerprint_survives_line_shifts_and_indentation_but_not_new_text():
    assert fingerprint(_f("ruff.F401", 2), "import os") == \
        fingerprint(_f("ruff.F401", 40), "    import   os")
    assert fingerprint(_f("ruff.E501", 3, "Line too long (120 > 88)"), "x") == \
        fingerprint(_f("ruff.E501", 9, "Line too long (131 > 88)"), "x")
    assert fingerprint(_f("ruff.F401", 2), "import os") != \
        fingerprint(_f("ruff.F401", 2), "import sys")


def test_compare_counts_duplicates_and_rejudges_only_failing_new_findings():
    lines = {1: "import os", 2: "import os", 3: "x = 1"}
    read = lambda path, line: lines.get(line, "")
    base = CheckResult(name="lint", status="fail", findings=(_f("ruff.F401", 1),))
    head = CheckResult(name="lint", status="fail", findings=(
        _f("ruff.F401", 1), _f("ruff.F401", 2)))
    out = compare(head, base, read, read)
    assert [f.new for f in out.findings] == [False, True] and out.status == "fail"
    below = CheckResult(name="sast", status="fail", findings=(
        _f("bandit.B602", 1), Finding(rule="bandit.B101", severity="low", path="a.py", line=3,
                                      message="assert", fails=False)))
    out = compare(below, CheckResult(name="sast", status="fail", findings=(_f("bandit.B602", 1),)),
                  read, read)
    assert out.status == "pass" and "already on the base" in out.summary


def test_an_old_finding_in_a_touched_file_does_not_block_but_a_new_one_does(repo):
    repo.write("legacy.py", LEGACY)
    repo.base = repo.commit("legacy code")
    # The change shifts every line down and touches the file, but adds no problem.
    repo.write("legacy.py", '"""Legacy."""\n# a comment\n\n' + LEGACY.split("\n", 1)[1]
               + "\n\ndef helper() -> int:\n    return 1\n").commit("touch legacy")
    report = repo.check("lint", "sast")
    assert report.passed, [c.to_dict() for c in report.checks]
    for result in report.checks:
        assert result.status == "pass" and result.findings, result
        assert all(not f.new for f in result.findings)
        assert "already on the base" in result.summary
    # Now a new unused import and a new shell=True in the same file: those block.
    text = (repo.path / "legacy.py").read_text()
    repo.write("legacy.py", text.replace("import subprocess", "import subprocess\nimport sys")
               + "\n\ndef run2(cmd):\n    return subprocess.call(cmd, shell=True)\n").commit()
    report = repo.check("lint", "sast")
    assert not report.passed
    for result in report.checks:
        assert result.status == "fail"
        new = [f for f in result.findings if f.new]
        old = [f for f in result.findings if not f.new]
        assert new and old, result
        assert {f.line for f in new}.isdisjoint({f.line for f in old})


def test_repo_wide_hygiene_findings_already_on_the_base_are_context(repo):
    repo.write(".github/workflows/ci.yml", "on: push\npermissions: write-all\njobs: {}\n")
    repo.base = repo.commit("legacy workflow")
    repo.write("app.py", (repo.path / "app.py").read_text() + "\n# touched\n").commit()
    result = repo.check("hygiene").checks[0]
    assert result.status == "pass", result
    [f] = [f for f in result.findings if f.rule == "hygiene.write-all"]
    assert not f.new


def test_a_fail_without_findings_gets_one_that_says_why(repo):
    def mute(ctx):
        return CheckResult(name="mute", status="fail", summary="the widget count is 3 > 2")

    register_check("mute", mute)
    try:
        result = repo.check("mute", policy=CheckPolicy()).checks[0]
    finally:
        from shipyard.runtime.checks import REGISTRY
        REGISTRY.pop("mute", None)
    assert result.status == "fail" and result.findings[0].message == "the widget count is 3 > 2"


def test_a_missing_tool_is_named_with_the_package_that_provides_it(repo, monkeypatch):
    from shipyard.runtime.checks import sbom

    monkeypatch.setattr(sbom, "tool", lambda name: f"/nonexistent/bin/{name}")
    repo.write("requirements.txt", "jinja2==3.1.4\n").commit()
    result = repo.check("sbom").checks[0]
    assert result.status == "error"
    assert "pip install cyclonedx-bom" in result.findings[0].message


def test_lint_never_fixes_the_users_files_even_when_ruff_config_says_fix(repo):
    # Found on pallets/flask, whose pyproject sets `[tool.ruff] fix = true`: the lint check
    # rewrote the user's working copy and then reported the fixed file as clean.
    repo.write("pyproject.toml", (repo.path / "pyproject.toml").read_text()
               + "\n[tool.ruff]\nfix = true\n")
    repo.base = repo.commit("ruff fix = true")
    repo.write("fixme.py", "import os\n\n\ndef f():\n    return 1\n").commit()
    before = (repo.path / "fixme.py").read_bytes()
    result = repo.check("lint").checks[0]
    assert (repo.path / "fixme.py").read_bytes() == before
    assert result.status == "fail" and result.findings[0].rule == "ruff.F401"


def test_a_tool_reporting_a_neighbouring_line_still_matches_but_one_more_is_new():
    # The tool's line disagrees with the committed text: same finding, other line text.
    base_lines, head_lines = {10: "eval(x)"}, {11: "with open(p) as f:", 30: "eval(y)"}
    base = CheckResult(name="sast", status="fail", findings=(_f("bandit.B307", 10),))
    drifted = CheckResult(name="sast", status="fail", findings=(_f("bandit.B307", 11),))
    out = compare(drifted, base, lambda p, n: head_lines.get(n, ""),
                  lambda p, n: base_lines.get(n, ""))
    assert out.status == "pass" and not out.findings[0].new
    two = CheckResult(name="sast", status="fail", findings=(_f("bandit.B307", 11),
                                                            _f("bandit.B307", 30)))
    out = compare(two, base, lambda p, n: head_lines.get(n, ""), lambda p, n: base_lines.get(n, ""))
    assert out.status == "fail" and [f.new for f in out.findings] == [False, True]


def test_bounding_a_dependency_the_base_left_unpinned_is_not_a_new_one(repo):
    # more-itertools c69f0f91 turned `flit` into `flit<4.0.0`: the unpinned `flit` was the
    # base's; a dependency the change adds, or one it unpins, is still new
    repo.base = repo.write("requirements/packaging.txt", "flit\nwheel==0.45.0\n").commit("base")
    repo.write("requirements/packaging.txt", "flit<4.0.0\nwheel\nflit_core<4.0.0\n").commit("pin")
    report = repo.check("deps")
    new = {f.message.split("'")[1] for f in report.checks[0].findings
           if f.rule == "deps.unpinned-new"}
    assert new == {"wheel", "flit_core<4.0.0"}


def test_a_commit_id_pinning_a_revision_is_a_note_not_a_secret(repo):
    # tomli f890dd17 ("Update pre-commit hooks") was blocked as four new hex secrets
    repo.write(".pre-commit-config.yaml", "repos:\n- repo: https://github.com/psf/black\n"
               "  rev: 831207fd435b47aeffdf6af853097e64322b4d44  # frozen: 25.12.0\n"
               "  hooks:\n  - id: black\n").commit("pin hooks by commit")
    result = repo.check("secrets").checks[0]
    assert not result.blocks and result.findings
    assert all(not f.fails and "pinning a revision" in f.message for f in result.findings)
    # the same digits assigned to a name are no revision: they still block
    repo.write("settings.py", 'API_KEY = "831207fd435b47aeffdf6af853097e64322b4d45"\n').commit(
        "a key")
    assert repo.check("secrets").checks[0].blocks
