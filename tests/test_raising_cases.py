"""A call that must raise is a case too: `median([]) raises ValueError`.

Before, a case could only state a value, so the Test Engineer wrote `median([]) == None`
for "raise ValueError when values is empty" (2026-12-07): every right candidate failed it,
and the line that raises was covered by no test.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from conftest import git

from shipyard.agents.examples import Example, extract_examples, render_tests
from shipyard.graphs.reask import same_value
from shipyard.runtime.probe import probe_cases

MEDIAN = '''def median(values):
    """The middle value."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
'''

MEDIAN_EDIT = "FILE: calc/core.py\n```python\n" + MEDIAN + "```\n"


def test_a_request_or_a_doctest_that_says_a_call_raises_gives_a_raise_case():
    request = "Add median(values): median([3, 1, 2]) == 2, and median([]) raises ValueError."
    assert extract_examples(request, {"median"}, source="request") == [
        Example(call="median([3, 1, 2])", expected="2", source="request"),
        Example(call="median([])", expected="raises ValueError", source="request")]
    doc = (">>> median([])\nTraceback (most recent call last):\n    ...\n"
           "ValueError: no values\n>>> median([5])\n5\n")
    assert extract_examples(doc, {"median"}, source="docstring") == [
        Example(call="median([])", expected="raises ValueError", source="docstring"),
        Example(call="median([5])", expected="5", source="docstring")]
    # prose about raising that shows no call is no case
    assert extract_examples("raise ValueError when values is empty", {"median"},
                            source="request") == []


def test_the_probe_passes_a_raise_case_only_when_the_call_raises_that_exception(tmp_path):
    (tmp_path / "m.py").write_text(MEDIAN + "\n\ndef first(d):\n    return d['x']\n")
    cases = [("median([])", "raises ValueError"), ("median([])", "raises Exception"),
             ("median([])", "raises TypeError"), ("median([1])", "raises ValueError"),
             ("first({})", "raises LookupError")]           # KeyError is a LookupError
    probe = probe_cases(tmp_path, [{"call": c, "expected": e, "source": "proposed",
                                    "imports": {c.split("(")[0]: "m"}} for c, e in cases],
                        scratch=tmp_path / "scratch", sandbox="off")
    assert [r.ok for r in probe.results] == [True, True, False, False, True]
    assert probe.results[2].got == "raised ValueError: no values"
    assert probe.results[3].got == "1"


def test_the_acceptance_file_fails_code_that_returns_where_it_must_raise(tmp_path):
    tests = render_tests("median", {"median": "m"}, [
        Example(call="median([3, 1, 2])", expected="2", source="request"),
        Example(call="median([])", expected="raises ValueError", source="proposed")])
    (tmp_path / "test_acceptance.py").write_text(tests)

    def run(code: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "m.py").write_text(code)
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "test_acceptance.py"], cwd=tmp_path, capture_output=True,
                              text=True, check=False)

    assert run(MEDIAN).returncode == 0
    returns_none = MEDIAN.replace('raise ValueError("no values")', "return None")
    failed = run(returns_none)
    assert failed.returncode == 1 and "1 failed, 1 passed" in failed.stdout, failed.stdout
    # a file with no raise case is the same as before: one test function
    plain = render_tests("median", {"median": "m"}, [
        Example(call="median([5])", expected="5", source="request")])
    assert "test_acceptance_raises" not in plain


def test_code_cannot_pass_a_raise_case_with_a_class_of_its_own_named_like_a_builtin(tmp_path):
    # as `_as_data` keeps an "always equal" object from passing a value case: a class of the
    # code's own that calls itself ValueError is not one, in the probe and in the test file
    spoof = ('class Fake(Exception):\n    pass\n\n\nFake.__name__ = "ValueError"\n\n\n'
             'def median(values):\n    raise Fake\n')
    (tmp_path / "m.py").write_text(spoof)
    probe = probe_cases(tmp_path, [{"call": "median([])", "expected": "raises ValueError",
                                    "source": "proposed", "imports": {"median": "m"}}],
                        scratch=tmp_path / "scratch", sandbox="off")
    assert [r.ok for r in probe.results] == [False]
    (tmp_path / "test_acceptance.py").write_text(render_tests("median", {"median": "m"}, [
        Example(call="median([])", expected="raises ValueError", source="proposed")]))
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_acceptance.py"], cwd=tmp_path, capture_output=True, text=True,
                         check=False)
    assert ran.returncode == 1 and "1 failed" in ran.stdout, ran.stdout
    # an exception of the module's own is named, and matched by its name
    (tmp_path / "m.py").write_text("class EmptyError(ValueError):\n    pass\n\n\n"
                                   "def median(values):\n    raise EmptyError\n")
    probe = probe_cases(tmp_path, [{"call": "median([])", "expected": e, "source": "proposed",
                                    "imports": {"median": "m"}}
                                   for e in ("raises EmptyError", "raises ValueError")],
                        scratch=tmp_path / "scratch2", sandbox="off")
    assert [r.ok for r in probe.results] == [True, True]


def test_the_raise_tests_meet_strict_lint_rules(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nlint.select = ["E", "F", "B", "EM", "PT", "UP", "C4", "PIE", "BLE"]\n')
    (tmp_path / "test_acceptance.py").write_text(render_tests("median", {"median": "m"}, [
        Example(call="median([])", expected="raises ValueError", source="proposed")]))
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-fix", "--no-cache",
                           "test_acceptance.py"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert lint.returncode == 0, lint.stdout


def test_an_answer_naming_the_exception_is_the_same_as_the_raise_case():
    assert same_value("ValueError", "raises ValueError")
    assert same_value("raised ValueError: no values", "raises ValueError")
    assert not same_value("TypeError", "raises ValueError")
    assert not same_value("None", "raises ValueError")
    assert same_value("'a'", '"a"')                        # values as before


def test_a_proposed_raise_case_sends_back_code_that_returns_and_merges_code_that_raises(
        make_repo, cli, replies):
    replies["test.plan"] = [{"strategy": "rules", "cases": [
        {"call": "median([])", "expected": "ValueError"},
        {"call": "median([4, 1, 9])", "expected": "4"}]}]
    returns_none = MEDIAN_EDIT.replace('raise ValueError("no values")', "return None")
    replies["implementer.implement"] = [{"raw": returns_none}, {"raw": MEDIAN_EDIT}]
    repo = make_repo(human=["G6"])
    _, out, _ = cli("run-feature", "Add median(values) to calc/core.py: the middle value; "
                    "raise ValueError when values is empty.", "--repo", repo, "--json")
    r = json.loads(out.strip().splitlines()[-1])
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    (cases,) = [json.loads(d)["cases"] for (d,) in db.execute(
        "select data from events where kind='acceptance_cases'")]
    assert {"call": "median([])", "expected": "raises ValueError", "source": "proposed"} in cases
    merged = git(repo, "show", f"shipyard/{r['run_id']}:calc/core.py")
    assert 'raise ValueError("no values")' in merged
    tests = git(repo, "ls-tree", "-r", "--name-only", f"shipyard/{r['run_id']}")
    path = next(p for p in tests.split() if p.endswith("_acceptance.py"))
    assert "test_acceptance_raises" in git(repo, "show", f"shipyard/{r['run_id']}:{path}")
