"""The G3 acceptance tests must still exist, unchanged, and pass at G6.

G3 commits the acceptance tests before any code (`Shipyard-Step: g3-tests`).
The Implementer may add tests, but it must not delete, rewrite or skip these:
otherwise "the tests pass" could mean "the tests that would fail are gone".
Their paths and blob ids are read from that commit; the tests check's JUnit
report says whether each of them ran and passed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .checks.base import CheckResult, Finding
from .gittree import entries
from .workspace import Git

__all__ = ["G3_STEP", "acceptance_result", "acceptance_tests", "check_acceptance"]

G3_STEP = "g3-tests"


def acceptance_tests(git: Git, base: str, head: str) -> dict[str, str]:
    """{path: blob id} of the test files the G3 commit in base..head added or changed."""
    out = git.run("log", "--format=%H%x00%(trailers:key=Shipyard-Step,valueonly)%x01",
                  f"{base}..{head}")
    # newest first: G5 may amend shipyard's own test file (disputed proposed cases) in a
    # step of its own, `g3-tests-...`; the Implementer's commits never carry such a step
    steps = [rec.strip().split("\0") for rec in out.split("\x01") if "\0" in rec]
    g3 = next((sha for sha, step in steps
               if step.strip() == G3_STEP or step.strip().startswith(G3_STEP + "-")), None)
    if g3 is None:
        return {}
    changed = set(git.run("diff", "--name-only", "-z", "--no-renames", "--diff-filter=AM",
                          f"{g3}^", g3).split("\0")) - {""}
    tests = {p for p in changed if p.endswith(".py") and not p.startswith("docs/")}
    return {e.path: e.oid for e in entries(git.path, g3) if e.path in tests}


def check_acceptance(git: Git, base: str, head: str, junit: Path | None, *,
                     tests_ran: bool = True) -> CheckResult:
    """`fail` when a G3 acceptance test is gone, rewritten, skipped, failing or did not run.

    With `tests_ran=False` (the policy runs no tests check, which G2 showed a human)
    only their presence is judged."""
    expected = acceptance_tests(git, base, head)
    if not expected:
        return CheckResult(name="acceptance", status="pass", summary="no G3 acceptance tests")
    at_head = {e.path: e.oid for e in entries(git.path, head)}
    findings = []
    for path, oid in sorted(expected.items()):
        if path not in at_head:
            findings.append(_f(path, "acceptance.deleted", "the G3 acceptance test was deleted; "
                                                          "restore it — tests come before code"))
        elif at_head[path] != oid:
            findings.append(_f(path, "acceptance.rewritten", "the G3 acceptance test was changed "
                                                            "after G3; restore it and fix the code"))
    if tests_ran:
        findings += _outcomes(set(expected), junit)
    return CheckResult(name="acceptance", status="fail" if findings else "pass",
                       findings=tuple(findings), blocking=True,
                       summary=f"{len(expected)} G3 acceptance test file(s), "
                               f"{len(findings)} problem(s)")


def acceptance_result(repo: Path, base: str, head: str, results: tuple[CheckResult, ...],
                      scratch_root: Path) -> CheckResult | None:
    """The acceptance verdict for a full check run over a shipyard branch (None elsewhere),
    judged against the JUnit report of the tests check in `results`."""
    git = Git(repo)
    if not acceptance_tests(git, base, head):
        return None
    tests = next((r for r in results if r.name == "tests"), None)
    junit = next((Path(e.path) if Path(e.path).is_absolute() else scratch_root / e.path
                  for e in (tests.evidence if tests else ()) if e.path.endswith("junit.xml")),
                 None)
    return check_acceptance(git, base, head, junit, tests_ran=tests is not None)


def _outcomes(paths: set[str], junit: Path | None) -> list[Finding]:
    if junit is None or not junit.is_file():
        return [_f(None, "acceptance.not-run", "no JUnit report from the tests check, so the G3 "
                                               "acceptance tests are not shown to pass")]
    # Modules of tests (conftest.py and helpers hold none): each must have run and passed.
    ran: dict[str, list[str]] = {p: [] for p in paths if _is_test_module(p)}
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = (case.get("file") or "").removeprefix("./") or _from_classname(case)
        if path not in ran:
            continue
        bad = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        ran[path].append(bad[0] if bad else "passed")
    out = []
    for path, outcomes in sorted(ran.items()):
        if not outcomes:
            out.append(_f(path, "acceptance.not-run", "no test from this G3 acceptance file ran "
                                                      "(deselected or not collected)"))
        elif any(o != "passed" for o in outcomes):
            what = sorted({o for o in outcomes if o != "passed"})
            out.append(_f(path, "acceptance.not-passed", f"G3 acceptance test(s) {', '.join(what)}; "
                                                         f"they must pass, not be skipped"))
    return out


def _is_test_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py")


def _from_classname(case: ET.Element) -> str:
    """`tests.test_x.TestY` -> `tests/test_x.py` (JUnit reports without a file attribute)."""
    parts = (case.get("classname") or "").split(".")
    while parts and not _is_test_module(parts[-1] + ".py"):
        parts.pop()
    return "/".join(parts) + ".py" if parts else ""


def _f(path: str | None, rule: str, message: str) -> Finding:
    return Finding(rule=rule, severity="high", path=path, line=None, message=message)
