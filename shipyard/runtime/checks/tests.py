"""tests: the repo's test command under coverage, on head and on base.

Fails on a failing test, on no tests at all, on coverage under the policy
minimum, and on coverage dropping versus base by more than the policy allows.
Coverage data, JUnit XML and caches go to scratch: `-p no:cacheprovider` and
PYTHONDONTWRITEBYTECODE keep the target repo untouched. Head and base are
exported with `git archive` and the tests run on those copies — model-written
code never sees a `.git` that leads back to the user's repository — inside the
bubblewrap sandbox of `runtime/sandbox.py` (`[policy] sandbox`).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ..sandbox import bwrap_path, wrap
from ..workspace import state_dir
from ._util import concurrently, evidence, extract_tree, finish, target_python, tool_error
from .base import CheckContext, CheckResult, Finding

NAME = "tests"
# Test code is not the code under test: measuring it would let "delete a test" raise coverage.
# Patterns without a leading "*" are relative to the tree measured, so the tree's own location
# (a temp dir) cannot match them.
_OMIT = "tests/*,test/*,src/*/tests/*,*/test_*.py,*_test.py,*/conftest.py,.venv/*,venv/*"
_LOCATION = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+):", re.MULTILINE)


@dataclass(kw_only=True)
class _Measure:
    returncode: int | None
    findings: list[Finding] = field(default_factory=list)
    percent: float | None = None
    missing: dict[str, set[int]] = field(default_factory=dict)
    error: CheckResult | None = None
    reports: list[Path] = field(default_factory=list)


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    argv = shlex.split(ctx.policy.test_command)
    if not argv:
        return finish(NAME, started, [], failed=True, summary="policy.test_command is empty")
    if Path(argv[0]).name not in ("pytest", "py.test"):
        return _plain_command(ctx, argv, started)
    if (err := _sandbox_error(ctx)) is not None:
        return err
    py = target_python(ctx.repo)
    want_base = ctx.base != ctx.head and ctx.policy.coverage_max_drop < 100
    calls = [lambda: _measure_tree(ctx, ctx.head, "head", py, argv[1:])]
    if want_base:
        calls.append(lambda: _measure_base(ctx, py, argv[1:]))
    head, *rest = concurrently(ctx, *calls)
    base = rest[0] if rest else None
    if head.error:
        return head.error
    findings = list(head.findings)
    if head.returncode == 5:
        findings.append(Finding(rule="tests.none", severity="high", path=None, line=None,
                                message="no tests were collected; add tests for the change"))
    findings += _coverage_findings(ctx, head, base)
    pct = "n/a" if head.percent is None else f"{head.percent:.1f}%"
    base_pct = "" if base is None or base.percent is None else f" (base {base.percent:.1f}%)"
    summary = f"exit {head.returncode}, coverage {pct}{base_pct}"
    return finish(NAME, started, findings, failed=bool(findings) or head.returncode != 0,
                  summary=summary, evidence=tuple(evidence(p) for p in head.reports))


def _measure_base(ctx: CheckContext, py: str, extra: list[str]) -> _Measure:
    return _measure_tree(ctx, ctx.base, "base", py, extra)


def _measure_tree(ctx: CheckContext, sha: str, label: str, py: str, extra: list[str]) -> _Measure:
    tree = extract_tree(ctx.repo, sha, ctx.scratch / f"{label}-tree")
    return _measure(ctx, tree, ctx.scratch / label, py, extra)


def _sandbox_error(ctx: CheckContext) -> CheckResult | None:
    if ctx.policy.sandbox == "required" and bwrap_path() is None:
        return CheckResult(name=NAME, status="error", summary="sandbox required but missing",
                           findings=(Finding(
                               rule="tests.no-sandbox", severity="high", path=None, line=None,
                               message="policy sandbox = \"required\" but bubblewrap is not "
                                       "installed: apt-get install bubblewrap (or set "
                                       "sandbox = \"auto\")"),))
    return None


def _confined(ctx: CheckContext, argv: list[str], root: Path, out: Path) -> list[str]:
    """`argv` inside the sandbox when policy and machine allow; the copy and `out` writable."""
    if ctx.policy.sandbox == "off" or bwrap_path() is None:
        return argv
    hide = [ctx.repo, _user_repo(ctx.repo), state_dir()]
    # The interpreters stay visible wherever they live (a venv under /tmp, say).
    exe = Path(argv[0])
    readable = [Path(sys.prefix), Path(sys.base_prefix), exe.parent.parent,
                exe.resolve().parent.parent]
    return wrap(argv, workdir=root, writable=[root, out], hide=[h for h in hide if h],
                readable=readable)


def _user_repo(worktree: Path) -> Path | None:
    from ._util import git

    try:
        common = git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    except RuntimeError:  # not a worktree of another repository: nothing more to hide
        return None
    return Path(common).parent


def _measure(ctx: CheckContext, root: Path, out: Path, py: str, extra: list[str]) -> _Measure:
    out.mkdir(parents=True, exist_ok=True)
    data, junit, cov_json = out / ".coverage", out / "junit.xml", out / "coverage.json"
    extra_env = {"COVERAGE_FILE": str(data)}
    if py == sys.executable:
        # Our interpreter, not the target's venv: the pytest plugins installed here are
        # shipyard's (langsmith, anyio, ...), not the target's, and cost ~1 s per run.
        extra_env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env = scrubbed_env(extra_env)
    argv = [py, "-m", "coverage", "run", f"--data-file={data}", "--source=.",
            f"--omit={_OMIT}", "-m", "pytest", "-p", "no:cacheprovider", "-q",
            "--tb=short", f"--junitxml={junit}", "-o", "junit_family=xunit1", *extra]
    res = run_proc(_confined(ctx, argv, root, out), cwd=root, env=env,
                   timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return _Measure(returncode=None, error=err)
    if res.returncode not in (0, 1, 2, 5):
        # 3 internal error, 4 usage error; or coverage/pytest missing in the target's Python
        why = (res.stderr.strip() or res.stdout.strip())[-800:]
        return _Measure(returncode=res.returncode, error=CheckResult(
            name=NAME, status="error", duration_s=res.duration_s,
            summary=f"pytest could not run (exit {res.returncode})",
            findings=(Finding(rule="tests.error", severity="high", path=None, line=None,
                              message=f"pytest exited {res.returncode} with {py}: {why}"),)))
    m = _Measure(returncode=res.returncode, findings=_junit_findings(junit, root))
    if res.returncode == 2 and not m.findings:
        m.findings.append(Finding(rule="tests.collection", severity="high", path=None, line=None,
                                  message=_tail(res.stdout)))
    if junit.is_file():
        m.reports.append(junit)
    rep = run_proc([py, "-m", "coverage", "json", f"--data-file={data}", "-o", str(cov_json)],
                   cwd=root, env=env, timeout=120)
    if rep.ok and cov_json.is_file():
        doc = json.loads(cov_json.read_text())
        m.percent = float(doc["totals"]["percent_covered"])
        m.missing = {Path(k).as_posix(): set(v["missing_lines"]) for k, v in doc["files"].items()}
        m.reports.append(cov_json)
    return m


def _junit_findings(junit: Path, root: Path) -> list[Finding]:
    if not junit.is_file():
        return []
    findings = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for bad in (*case.findall("failure"), *case.findall("error")):
            path, line = _where(bad.text or "", root)
            if path is None:
                path = case.get("file")
                line = int(case.get("line", "0")) + 1 if case.get("line") else None
            name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            msg = (bad.get("message") or "").splitlines()[0:1]
            findings.append(Finding(rule=f"tests.{bad.tag}", severity="high", path=path, line=line,
                                    message=f"{name}: {msg[0] if msg else bad.tag}"[:500]))
    return findings


def _where(text: str, root: Path) -> tuple[str | None, int | None]:
    """The innermost traceback location inside the repo (`path.py:LINE:` in --tb=short)."""
    for m in reversed(list(_LOCATION.finditer(text))):
        p = Path(m["path"])
        if not p.is_absolute() and (root / p).is_file():
            return p.as_posix(), int(m["line"])
    return None, None


def _coverage_findings(ctx: CheckContext, head: _Measure, base: _Measure | None) -> list[Finding]:
    pol = ctx.policy
    out = []
    if pol.coverage_min > 0 and (head.percent or 0.0) < pol.coverage_min:
        out.append(Finding(rule="tests.coverage-min", severity="high", path=None, line=None,
                           message=f"coverage {head.percent or 0:.1f}% is below the policy "
                                   f"minimum {pol.coverage_min:.1f}%"))
    if base and base.percent is not None and head.percent is not None \
            and head.percent < base.percent - pol.coverage_max_drop:
        path, line = _worst_drop(base.missing, head.missing)
        out.append(Finding(rule="tests.coverage-drop", severity="high", path=path, line=line,
                           message=f"coverage dropped from {base.percent:.1f}% to "
                                   f"{head.percent:.1f}% (policy allows "
                                   f"{pol.coverage_max_drop:.1f} points)"))
    return out


def _worst_drop(base: dict[str, set[int]], head: dict[str, set[int]]) -> tuple[str | None, int | None]:
    """The file with the most lines newly uncovered, and the first of them."""
    newly = {p: missing - base.get(p, set()) for p, missing in head.items() if p in base}
    newly = {p: s for p, s in newly.items() if s}
    if not newly:
        return None, None
    path = max(newly, key=lambda p: len(newly[p]))
    return path, min(newly[path])


def _plain_command(ctx: CheckContext, argv: list[str], started: float) -> CheckResult:
    """A non-pytest test command: pass/fail on its exit code; coverage is not measured."""
    if (err := _sandbox_error(ctx)) is not None:
        return err
    tree = extract_tree(ctx.repo, ctx.head, ctx.scratch / "head-tree")
    out = ctx.scratch / "head"
    out.mkdir(parents=True, exist_ok=True)
    res = run_proc(_confined(ctx, argv, tree, out), cwd=tree, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    findings = [] if res.ok else [Finding(rule="tests.failure", severity="high", path=None,
                                          line=None, message=_tail(res.stdout + res.stderr))]
    return finish(NAME, started, findings, failed=not res.ok,
                  summary=f"{ctx.policy.test_command!r} exit {res.returncode}; coverage not measured")


def _tail(text: str, n: int = 600) -> str:
    return text.strip()[-n:]
