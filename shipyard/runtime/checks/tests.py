"""tests: the repo's test command under coverage, on head and on base.

Fails on a failing test, on no tests at all, on a missing JUnit report or missing
coverage data (a test process that ended itself early), on coverage under the policy
minimum, and on coverage dropping versus base by more than the policy allows.

Exactly the tree under review is tested: head and base are exported with `git
archive`, built into wheels and installed (never editable) next to an environment
made from the target's declarations (`_testenv.py`); the user's `.venv` is not used.
For a flat layout the package's sources are removed from the copy the tests run in,
so `import pkg` can only resolve to the wheel. Everything that executes repository
content — the build backend, the tests — runs in the bubblewrap sandbox with
PYTHONSAFEPATH and resource limits; output is written to a file and read bounded;
coverage data is reported in-process (`_coverage.py`; nothing of the tree is
imported). `-p no:cacheprovider` keeps caches out of the tree.

Coverage is measured only when a verdict reads it (a minimum, or the comparison with the
base). A clean measurement is remembered by tree id, whichever side it was measured as:
the base of the next change is usually the head a check just measured, and is not run
again. Against a remembered base, a change to CI files or unread documentation alone runs
the tests without coverage and keeps the base's numbers (`_focus.py`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shlex
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ..sandbox import Limits, bwrap_path, wrap
from ..workspace import state_dir
from . import _focus
from ._declared import read_declarations
from ._interpreter import Interpreter, choose
from ._measured import collector_argv, collector_for, read_coverage
from ._testenv import EnvError, envs_dir, prepare_env
from ._testsetup import Setup, logged, read_tail, setup_tree
from ._util import (
    changed_paths,
    concurrently,
    evidence,
    extract_tree,
    finish,
    git,
    target_python,
    tool_error,
    tree_id,
    write_whole,
)
from .base import CheckContext, CheckResult, Finding

NAME = "tests"
# Test code is not the code under test: measuring it would let "delete a test" raise coverage.
# Patterns without a leading "*" are relative to the tree measured, so the tree's own location
# (a temp dir) cannot match them.
_OMIT = "tests/*,test/*,src/*/tests/*,*/test_*.py,*_test.py,*/conftest.py,.venv/*,venv/*"
_MAX_REPORT = 64 << 20  # a JUnit report larger than this is not parsed
_BASE_CACHE_VERSION = 5  # bump when what a base measurement means changes


@dataclass(kw_only=True)
class _Measure:
    returncode: int | None
    findings: list[Finding] = field(default_factory=list)
    percent: float | None = None
    missing: dict[str, set[int]] = field(default_factory=dict)
    inert: bool = False  # the change touched nothing coverage sees: not measured (_focus.py)
    error: CheckResult | None = None
    reports: list[Path] = field(default_factory=list)
    env: str = ""


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    argv = shlex.split(ctx.policy.test_command)
    if not argv:
        return finish(NAME, started, [], failed=True, summary="policy.test_command is empty")
    if (err := _sandbox_error(ctx)) is not None:
        return err
    pytest = Path(argv[0]).name in ("pytest", "py.test")
    interp = _interpreter(ctx)
    want_base = pytest and ctx.base != ctx.head and ctx.policy.coverage_max_drop < 100
    # Coverage costs about as much as the tests themselves on a small suite: measured only
    # when a verdict reads it (a minimum, or the comparison with the base).
    coverage = pytest and (want_base or ctx.policy.coverage_min > 0)
    # against a remembered base, a change no test can see keeps the base's coverage
    changed = changed_paths(ctx.repo, ctx.base, ctx.head) if coverage and want_base \
        and ctx.policy.coverage_min == 0 and _cache_file(ctx, ctx.base, argv, interp).is_file() \
        else None
    calls = [lambda: _measure_tree(ctx, ctx.head, "head", argv, interp, coverage=coverage,
                                   changed=changed)]
    if want_base:
        calls.append(lambda: _measure_base(ctx, argv, interp))
    head, *rest = concurrently(ctx, *calls)
    base = rest[0] if rest else None
    if head.error:
        return head.error
    if head.inert and base is not None:
        head.percent, head.missing = base.percent, base.missing
    if coverage:  # the next change's base is usually this head: it need not run again
        _remember(_cache_file(ctx, ctx.head, argv, interp), head)
    findings = list(head.findings)
    if head.returncode == 5:
        findings.append(Finding(rule="tests.none", severity="high", path=None, line=None,
                                message="no tests were collected; add tests for the change"))
    if not pytest:
        return finish(NAME, started, findings, failed=bool(findings) or head.returncode != 0,
                      summary=f"{ctx.policy.test_command!r} exit {head.returncode}; coverage not "
                              f"measured; {head.env}",
                      evidence=tuple(evidence(p) for p in head.reports))
    findings += _coverage_findings(ctx, head, base)
    pct = "not measured (the policy reads none)" if not coverage else \
        "n/a" if head.percent is None else f"{head.percent:.1f}%"
    base_pct = "" if base is None or base.percent is None else f" (base {base.percent:.1f}%)"
    if head.inert:
        base_pct += "; only CI files or docs changed: coverage as at base"
    summary = f"exit {head.returncode}, coverage {pct}{base_pct}; {head.env}"
    return finish(NAME, started, findings, failed=bool(findings) or head.returncode != 0,
                  summary=summary, evidence=tuple(evidence(p) for p in head.reports))


def _measure_base(ctx: CheckContext, argv: list[str], interp: Interpreter) -> _Measure:
    """The base's coverage, cached by its tree id: fix rounds and G6 re-check one base, and
    a merged change's head (measured and remembered by its own check) is the next base."""
    cached = _cache_file(ctx, ctx.base, argv, interp)
    if cached.is_file():
        doc = json.loads(cached.read_text())
        return _Measure(returncode=0, percent=doc["percent"],
                        missing={k: set(v) for k, v in doc["missing"].items()})
    m = _measure_tree(ctx, ctx.base, "base", argv, interp, coverage=True)
    _remember(cached, m)
    return m


def _cache_file(ctx: CheckContext, sha: str, argv: list[str], interp: Interpreter) -> Path:
    """Where the coverage of commit `sha`'s tree, run by `argv` on `interp`, is kept: a
    tree is measured the same way whether it is the head or the base of a check."""
    key = hashlib.sha256(json.dumps([_BASE_CACHE_VERSION, tree_id(ctx.repo, sha), argv, _OMIT, sys.version,
                                     interp.path, interp.version]).encode()).hexdigest()
    return envs_dir().parent / "base-coverage" / f"{key[:32]}.json"


def _remember(cached: Path, m: _Measure) -> None:
    """Keep a clean measurement only: every test passed, coverage read, nothing found."""
    if m.error is not None or m.percent is None or m.returncode != 0 or m.findings:
        return
    write_whole(cached, json.dumps({"percent": m.percent,
                                    "missing": {k: sorted(v) for k, v in m.missing.items()}}))


def _sandbox_error(ctx: CheckContext) -> CheckResult | None:
    if ctx.policy.sandbox == "required" and bwrap_path() is None:
        return CheckResult(name=NAME, status="error", summary="sandbox required but missing",
                           findings=(Finding(
                               rule="tests.no-sandbox", severity="high", path=None, line=None,
                               message="policy sandbox = \"required\" but bubblewrap is not "
                                       "installed: apt-get install bubblewrap (or set "
                                       "sandbox = \"auto\")"),))
    return None


def _error(rule: str, message: str) -> _Measure:
    return _Measure(returncode=None, error=CheckResult(
        name=NAME, status="error", summary=message.splitlines()[0][:200],
        findings=(Finding(rule=rule, severity="high", path=None, line=None, message=message),)))


def _measure_tree(ctx: CheckContext, sha: str, label: str, argv: list[str],
                  interp: Interpreter, *,
                  coverage: bool, changed: list[tuple[str, str]] | None = None) -> _Measure:
    tree = extract_tree(ctx.repo, sha, ctx.scratch / f"{label}-tree")
    out = ctx.scratch / label
    out.mkdir(parents=True, exist_ok=True)
    decl = read_declarations(tree)
    if (why := decl.python_mismatch(interp.version)) is not None:
        return _error("tests.python", (
            f"{why}, but the tests would run on Python {interp.version} ({interp.origin}): "
            f"create the project's .venv with a Python that satisfies it (`uv venv --python "
            f"X.Y` in the repository), which the check then uses, or run shipyard on one."))
    try:
        env = prepare_env(decl, ctx.policy.timeout_s, python=interp.path)
    except EnvError as exc:
        if not ctx.policy.test_env_fallback:
            return _error("tests.env", (
                f"could not install the target's declared test dependencies "
                f"({', '.join(decl.sources) or 'no declarations'}) into an isolated environment: "
                f"the package index is unreachable or a requirement cannot be resolved. Fix the "
                f"index in your pip configuration (PIP_INDEX_URL, pip.conf) or the declaration, "
                f"or set [policy] test_env_fallback = true to run with the repository's own "
                f"interpreter.\n{str(exc)[-900:]}"))
        py = Path(target_python(ctx.repo))
        setup = Setup.fallback(str(py), tree, _confiner(ctx, py.parent.parent,
                                                       py.resolve().parent.parent))
    else:
        home = Path(interp.path).parent.parent  # an interpreter under /tmp stays visible
        setup = setup_tree(ctx, env, decl, tree, out, sha, confine=_confiner(ctx, env.path, home))
        if isinstance(setup, str):
            return _error("tests.build", setup)
        setup = replace(setup, details={**setup.details, "interpreter": {
            "path": interp.path, "version": interp.version, "from": interp.origin}})
    return _measure(ctx, setup, out, argv, coverage=coverage, changed=changed)


def _interpreter(ctx: CheckContext) -> Interpreter:
    """The target's own Python (its .venv's, in the repository a run's worktree belongs
    to: never the worktree's, which holds what is under review), else shipyard's."""
    return choose(_user_repo(ctx.repo) or ctx.repo)


def _confiner(ctx: CheckContext, *readable: Path):
    """A function wrapping argv in the sandbox (when policy and machine allow)."""
    def confine(argv: list[str], root: Path, out: Path) -> list[str]:
        if ctx.policy.sandbox == "off" or bwrap_path() is None:
            return argv
        hide = [ctx.repo, _user_repo(ctx.repo), state_dir()]
        # The interpreters stay visible wherever they live (a venv under /tmp, say).
        keep = [Path(sys.prefix), Path(sys.base_prefix), *readable]
        return wrap(argv, workdir=root, writable=[root, out], hide=[h for h in hide if h],
                    readable=keep, limits=Limits())
    return confine


@functools.lru_cache(maxsize=32)  # asked by the interpreter and each sandboxed run
def _user_repo(worktree: Path) -> Path | None:
    try:
        common = git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    except RuntimeError:  # not a worktree of another repository: nothing more to hide
        return None
    return Path(common).parent


def _measure(ctx: CheckContext, setup: Setup, out: Path, argv: list[str], *,
             coverage: bool, changed: list[tuple[str, str]] | None = None) -> _Measure:
    data, junit, cov_json = out / ".coverage", out / "junit.xml", out / "coverage.json"
    lines = out / "lines.json"
    pytest = Path(argv[0]).name in ("pytest", "py.test")
    omit = f"{_OMIT},{setup.site}/*/tests/*" if setup.site else _OMIT
    inert = coverage and changed is not None and _focus.inert(
        changed, doctests=_focus.runs_doctests(setup.tree, (*setup.pytest_args, *argv[1:])))
    coverage = coverage and not inert  # the base's numbers are the head's
    collector = collector_for(setup) if coverage and pytest else None
    if pytest:
        measured = collector_argv(collector, out, lines, data, setup.source, omit)
        cmd = [str(setup.python), *setup.flags, *measured, "-m", "pytest", "-p",
               "no:cacheprovider", "-q", "--tb=short", f"--junitxml={junit}", "-o",
               "junit_family=xunit1", *setup.pytest_args, *argv[1:]]
    else:
        cmd = argv
    extra = {"COVERAGE_FILE": str(data), **setup.env}
    if setup.python == Path(sys.executable):
        # Our interpreter, not an environment: its pytest plugins are shipyard's.
        extra["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    res = run_proc(setup.confine(logged(cmd, out / "output.log"), setup.tree, out),
                   cwd=setup.tree, env=scrubbed_env(extra), timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return _Measure(returncode=None, error=err)
    log = read_tail(out / "output.log")
    m = _Measure(returncode=res.returncode, reports=[setup.manifest(out, cmd)], inert=inert,
                 env=setup.describe + (f"; lines recorded by {collector}" if collector else ""))
    if not pytest:
        if not res.ok:
            m.findings.append(Finding(rule="tests.failure", severity="high", path=None,
                                      line=None, message=log[-600:]))
        return m
    if res.returncode not in (0, 1, 2, 5):
        return _error("tests.error", f"pytest exited {res.returncode} ({setup.describe}): "
                                     f"{log[-800:]}")
    m.findings = _junit_findings(junit, setup)
    if res.returncode == 2 and not m.findings:
        m.findings.append(Finding(rule="tests.collection", severity="high", path=None, line=None,
                                  message=log[-600:]))
    if junit.is_file():
        m.reports.append(junit)
    else:
        m.findings.append(Finding(rule="tests.no-report", severity="high", path=None, line=None,
                                  message="pytest wrote no JUnit report: the test process ended "
                                          "before pytest finished (os._exit, a crash, a kill); "
                                          f"output: {log[-300:]}"))
    if collector:
        cov, problem = read_coverage(out, lines if collector == "sys.monitoring" else None,
                                     setup, omit)
        if problem is not None:
            m.findings.append(problem)
        elif cov is not None:
            m.percent = cov.percent
            m.missing = {setup.repo_path(k): v for k, v in cov.missing.items()}
            cov_json.write_text(json.dumps({"percent_covered": m.percent, "missing_lines": {
                k: sorted(v) for k, v in m.missing.items()}}, indent=1))
            m.reports.append(cov_json)
    return m


def _junit_findings(junit: Path, setup: Setup) -> list[Finding]:
    if not junit.is_file():
        return []
    if junit.stat().st_size > _MAX_REPORT:
        return [Finding(rule="tests.report-size", severity="high", path=None, line=None,
                        message=f"the JUnit report is over {_MAX_REPORT >> 20} MiB; not parsed")]
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError as exc:
        return [Finding(rule="tests.report", severity="high", path=None, line=None,
                        message=f"the JUnit report is not valid XML: {exc}")]
    findings = []
    for case in root.iter("testcase"):
        for bad in (*case.findall("failure"), *case.findall("error")):
            path, line = setup.where(bad.text or "")
            if path is None:
                path = case.get("file")
                line = int(case.get("line", "0")) + 1 if case.get("line") else None
            name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            msg = (bad.get("message") or "").splitlines()[0:1]
            findings.append(Finding(rule=f"tests.{bad.tag}", severity="high", path=path, line=line,
                                    message=f"{name}: {msg[0] if msg else bad.tag}"[:500]))
    return findings


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
