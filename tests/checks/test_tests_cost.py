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

    def spy(ctx, sha, label, argv, *, coverage, **kw):
        calls.append((label, coverage))
        return real(ctx, sha, label, argv, coverage=coverage, **kw)

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


EXTRA = "def half(n: int) -> int:\n    if n < 0:\n        raise ValueError(n)\n    return n // 2\n"
TESTS_EXTRA = "from extra import half\n\n\ndef test_half():\n    assert half(4) == 2\n"
TWO_MODULES = PYPROJECT + '\n[tool.setuptools]\npy-modules = ["app", "extra"]\n'
LENIENT = CheckPolicy(coverage_max_drop=50)
DIV = "\n\ndef div(a: int, b: int) -> float:\n    if b == 0:\n        return 0.0\n    return a / b\n"


def test_a_change_to_one_module_is_measured_on_it_and_the_rest_kept_from_base(
        history, measured, monkeypatch):
    # humanize: coverage was most of what a warm check paid over the bare test run
    history.write("pyproject.toml", TWO_MODULES).write("extra.py", EXTRA)
    first = history.write("tests/test_extra.py", TESTS_EXTRA).commit("extra")
    assert _check(history, history.base, first, LENIENT)[0].passed   # extra.py's raise: 87.5%

    measured.clear()
    second = history.write("app.py", APP + DIV).commit("div, untested")
    report, tests = _check(history, first, second)
    assert measured == [("head", True)]
    assert "measured on the 1 changed module(s), the rest as at base" in tests.summary
    drop = finding(report, "tests", "tests.coverage-drop")
    assert drop.path == "app.py"

    # measured whole from scratch: the same numbers, extra.py's uncovered line included
    monkeypatch.setattr(tests_check, "_BASE_CACHE_VERSION", uuid.uuid4().hex)
    whole_report, whole = _check(history, first, second)
    assert "changed module" not in whole.summary
    assert whole.summary.split(";")[0] == tests.summary.split(";")[0]
    assert finding(whole_report, "tests", "tests.coverage-drop").message == drop.message


def test_a_change_to_tests_or_a_deleted_module_is_measured_whole(history, measured):
    history.write("pyproject.toml", TWO_MODULES).write("extra.py", EXTRA)
    first = history.write("tests/test_extra.py", TESTS_EXTRA).commit("extra")
    assert _check(history, history.base, first, LENIENT)[0].passed   # extra.py's raise: 87.5%

    second = history.write("tests/test_extra.py", TESTS_EXTRA + "\n\ndef test_more():\n"
                           "    assert half(6) == 3\n").commit("one more test")
    _, tests = _check(history, first, second)
    assert "changed module" not in tests.summary and "as at base" not in tests.summary

    history.remove("extra.py").remove("tests/test_extra.py")
    history.write("pyproject.toml", PYPROJECT)
    _, tests = _check(history, second, history.commit("drop extra"))
    assert "as at base" not in tests.summary


def test_a_docs_only_change_runs_the_tests_and_keeps_the_bases_coverage(history, measured):
    first = history.write("app.py", APP + MUL).write("tests/test_mul.py", TESTS_MUL).commit("mul")
    assert _check(history, history.base, first)[0].passed
    report, tests = _check(history, first, history.write("docs/index.md", "# app\n").commit())
    assert report.passed and "no module changed: as at base" in tests.summary
    assert "coverage 100.0% (base 100.0%)" in tests.summary


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


def test_only_package_modules_ci_files_and_unread_docs_allow_a_focused_measurement():
    from shipyard.runtime.checks._focus import focus

    measured = {"src/pkg/a.py": Path("/site/pkg/a.py")}
    inert = [("M", ".github/workflows/ci.yml"), ("A", "docs/usage.rst"), ("M", "README.md")]
    assert focus([("M", "src/pkg/a.py"), *inert], measured, doctests=False) == [
        Path("/site/pkg/a.py")]
    assert focus(inert, measured, doctests=False) == []
    assert focus([("M", "README.md")], measured, doctests=True) is None  # a doctest may read it
    for other in ("tests/test_a.py", "conftest.py", "pyproject.toml", "requirements.txt",
                  "src/pkg/words.txt", "scripts/tool.py"):
        assert focus([("M", other)], measured, doctests=False) is None, other
    assert focus([("D", "src/pkg/a.py")], measured, doctests=False) is None
