"""What the tests check does not run twice, and what it does not measure when no verdict
reads it — without testing any less."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shipyard.runtime.checks import CheckPolicy, run_checks
from shipyard.runtime.checks import tests as tests_check

from .conftest import APP, PYPROJECT, TESTS_ADD, TESTS_SUB, FixtureRepo, finding, init_repo

TESTS_MUL = "from app import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
MUL = "\n\ndef mul(a: int, b: int) -> int:\n    return a * b\n"


@pytest.fixture
def history(tmp_path: Path) -> FixtureRepo:
    """The little app as a base commit; a nonce keeps its trees out of earlier runs' caches."""
    r = init_repo(tmp_path / "app")
    r.write("app.py", APP).write("tests/test_add.py", TESTS_ADD)
    r.write("tests/test_sub.py", TESTS_SUB).write("pyproject.toml", PYPROJECT)
    r.write("nonce.txt", uuid.uuid4().hex)
    r.base = r.commit("base")
    return r


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every tree the check runs the tests of: (head|base, with coverage)."""
    calls: list[tuple[str, bool]] = []
    real = tests_check._measure_tree

    def spy(ctx, sha, label, argv, interp, *, coverage, **kw):
        calls.append((label, coverage))
        return real(ctx, sha, label, argv, interp, coverage=coverage, **kw)

    monkeypatch.setattr(tests_check, "_measure_tree", spy)
    return calls


def _check(repo: FixtureRepo, base: str, head: str, policy: CheckPolicy | None = None):
    report = run_checks(repo.path, base, head, policy or CheckPolicy(), only=["tests"])
    return report, report.checks[0]


def test_a_merged_head_is_not_run_again_as_the_next_base(history, measured):
    first = history.write("app.py", APP + MUL).write("tests/test_mul.py", TESTS_MUL).commit("mul")
    report, tests = _check(history, history.base, first)
    assert report.passed, tests
    assert sorted(measured) == [("base", True), ("head", True)]

    measured.clear()
    second = history.write("README.md", "A tiny app.\n").commit("docs")
    report, tests = _check(history, first, second)
    assert report.passed, tests
    assert measured == [("head", True)], "the base was the head measured a moment ago"
    assert "coverage 100.0% (base 100.0%)" in tests.summary


def test_a_coverage_drop_against_a_remembered_base_still_blocks(history, measured):
    first = history.write("app.py", APP + MUL).write("tests/test_mul.py", TESTS_MUL).commit("mul")
    assert _check(history, history.base, first)[0].passed

    measured.clear()
    history.remove("tests/test_mul.py")
    report, _ = _check(history, first, history.commit("drop the mul test"))
    assert measured == [("head", True)]
    assert not report.passed
    assert "app.py" == finding(report, "tests", "tests.coverage-drop").path


DIV = "\n\ndef div(a: int, b: int) -> float:\n    if b == 0:\n        return 0.0\n    return a / b\n"


def test_a_change_no_test_can_see_runs_the_tests_and_keeps_the_bases_coverage(history, measured):
    # humanize: coverage was most of what a warm check paid over the bare test run, and
    # most of its merged commits touch only CI files
    first = history.write("app.py", APP + MUL).write("tests/test_mul.py", TESTS_MUL).commit("mul")
    assert _check(history, history.base, first)[0].passed
    history.write("docs/index.md", "# app\n").write(".github/workflows/ci.yml", "on: push\n")
    report, tests = _check(history, first, history.commit("docs and CI"))
    assert report.passed
    assert "coverage 100.0% (base 100.0%); only CI files or docs changed" in tests.summary


def test_a_change_to_a_module_is_measured_whole_and_its_untested_code_still_blocks(
        history, measured):
    first = history.write("app.py", APP + MUL).write("tests/test_mul.py", TESTS_MUL).commit("mul")
    assert _check(history, history.base, first)[0].passed
    history.write("app.py", APP + MUL + DIV).write("README.md", "div, untested\n")
    report, tests = _check(history, first, history.commit("div"))
    assert "as at base" not in tests.summary
    assert finding(report, "tests", "tests.coverage-drop").path == "app.py"


def test_a_failing_head_is_not_remembered(history, measured):
    broken = history.write("app.py", APP.replace("a - b", "a + b")).commit("break sub")
    report, _ = _check(history, history.base, broken)
    assert "test_sub" in finding(report, "tests", "tests.failure").message

    measured.clear()
    history.write("app.py", APP).commit("fix sub")
    _check(history, broken, "HEAD")
    assert sorted(measured) == [("base", True), ("head", True)], \
        "a failed run says nothing about the tree's coverage"


NO_COVERAGE = CheckPolicy(coverage_max_drop=100, coverage_min=0)


def test_without_a_coverage_rule_the_tests_run_unmeasured_and_still_decide(history, measured):
    broken = history.write("app.py", APP.replace("a - b", "a + b")).commit("break sub")
    report, tests = _check(history, history.base, broken, NO_COVERAGE)
    assert measured == [("head", False)]
    assert "test_sub" in finding(report, "tests", "tests.failure").message
    assert "coverage not measured" in tests.summary

    history.write("app.py", APP).commit("fix sub")
    report, tests = _check(history, broken, "HEAD", NO_COVERAGE)
    assert report.passed, tests


def test_without_a_coverage_rule_a_run_that_ends_itself_is_still_caught(history):
    history.write("tests/conftest.py", "import os\nos._exit(0)\n").commit("exit early")
    report, _ = _check(history, history.base, "HEAD", NO_COVERAGE)
    assert not report.passed
    assert "no JUnit report" in finding(report, "tests", "tests.no-report").message


def test_a_coverage_minimum_alone_still_measures(history, measured):
    report, tests = _check(history, history.base, history.base,
                           CheckPolicy(coverage_max_drop=100, coverage_min=99.5))
    assert measured == [("head", True)]
    assert report.passed and "coverage 100.0%" in tests.summary


def test_only_ci_files_and_documentation_no_test_reads_count_as_unseen():
    from shipyard.runtime.checks._focus import inert

    unseen = [("M", ".github/workflows/ci.yml"), ("A", "docs/usage.rst"), ("M", "README.md"),
              ("M", "documentation/index.rst"), ("M", "doc/api.md"), ("M", "CHANGES")]
    assert inert(unseen, doctests=False)   # six keeps its docs in documentation/ and CHANGES
    assert not inert([("M", "README.md")], doctests=True)   # a doctest option may read it
    for seen in ("app.py", "src/pkg/a.py", "tests/test_a.py", "conftest.py", "pyproject.toml",
                 "requirements.txt", "docs/requirements.txt", "src/pkg/words.txt",
                 "test_usage.txt", "docs/conftest.py", "docs/test_usage.py",
                 ".github/scripts/check.py", "documentation/conf.py", "pkg/CHANGES",
                 "Makefile"):
        assert not inert([*unseen, ("M", seen)], doctests=False), seen
    assert not inert([], doctests=False)


def test_a_reported_path_in_the_installed_wheel_is_the_repositorys_own():
    from shipyard.runtime.checks._testsetup import Setup

    site, tree = Path("/x/site"), Path("/x/tree")
    setup = Setup(python=Path("python"), tree=tree, confine=lambda a, r, o: a, site=site,
                  layout={"pkg": "src/pkg", "flat": "flat", "six": "six"})
    assert setup.repo_path(str(site / "pkg" / "mod.py")) == "src/pkg/mod.py"
    assert setup.repo_path(str(site / "flat" / "a" / "b.py")) == "flat/a/b.py"
    assert setup.repo_path(str(site / "six.py")) == "six.py"
    assert setup.repo_path(str(tree / "tests" / "test_a.py")) == "tests/test_a.py"
