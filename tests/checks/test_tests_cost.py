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

    def spy(ctx, sha, label, argv, *, coverage):
        calls.append((label, coverage))
        return real(ctx, sha, label, argv, coverage=coverage)

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
