"""Real checks on every diff: tests, lint, SAST, secrets, deps, licenses, SBOM, hygiene.

`run_checks(repo, base, head, policy)` runs the checks the policy names on the
change `base..head` of a checkout of `head`, in parallel threads (each check's
work happens in subprocesses), and returns a :class:`GateReport`. A check that
cannot run is `error`, never `pass`; whether it blocks is policy.

Third parties add checks with :func:`register_check` or through the
`shipyard.checks` entry-point group: each entry point is a callable taking
`register_check`, or a check function itself (registered under the entry
point's name). The built-ins register through the same function.
"""

from __future__ import annotations

import contextvars
import importlib
import os
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path

from ...errors import RepoError, UserError
from ..proc import in_background
from ..scratch import scratch_dir
from ..telemetry import tool_span
from .base import CheckContext, CheckResult, Evidence, Finding, ProgressFn
from .baseline import BASELINED, BaseTree, judge_against_base
from .policy import ALL_CHECKS, CheckPolicy

__all__ = [
    "ALL_CHECKS",
    "ALWAYS_BLOCKING",
    "REGISTRY",
    "CheckContext",
    "CheckPolicy",
    "CheckResult",
    "Evidence",
    "Finding",
    "GateReport",
    "changed_files",
    "register_check",
    "registered_checks",
    "resolve_sha",
    "run_checks",
    "tooling_status",
]

CheckFn = Callable[[CheckContext], CheckResult]

# Secrets block whatever the policy says: a leaked key is not a matter of taste.
ALWAYS_BLOCKING = frozenset({"secrets"})

REGISTRY: dict[str, CheckFn] = {}
_BUILTINS = (*ALL_CHECKS, "tooling")
_loaded = False


def register_check(name: str, fn: CheckFn, *, compare_with_base: bool = False) -> None:
    """Add (or replace) the check `name`; `fn(ctx) -> CheckResult`.

    With `compare_with_base`, a failing result is re-judged against the same check on the
    base: findings already there are context and do not block (see `baseline`).
    """
    REGISTRY[name] = fn
    if compare_with_base:
        BASELINED.add(name)


def registered_checks() -> dict[str, CheckFn]:
    """Every known check, loading built-ins and `shipyard.checks` entry points once."""
    global _loaded
    if not _loaded:
        for name in _BUILTINS:
            if name not in REGISTRY:  # a third party may have replaced a built-in already
                register_check(name, _builtin(name))
        for ep in entry_points(group="shipyard.checks"):
            obj = ep.load()
            if getattr(obj, "__name__", "") == "register_checks" or ep.name.startswith("register"):
                obj(register_check)
            else:
                register_check(ep.name, obj)
        _loaded = True
    return REGISTRY


def _builtin(name: str) -> CheckFn:
    """A built-in check, imported on first use so listing checks stays cheap."""
    def check(ctx: CheckContext) -> CheckResult:
        return importlib.import_module(f"{__name__}.{name}").run(ctx)
    check.__name__ = f"{name}_check"
    return check


@dataclass(frozen=True, kw_only=True, slots=True)
class GateReport:
    passed: bool
    base: str
    head: str
    checks: tuple[CheckResult, ...]

    def to_dict(self) -> dict:
        """Exactly the `shipyard gates check --json` shape."""
        keep = ("name", "status", "blocking", "findings", "evidence", "duration_s")
        return {"passed": self.passed, "base": self.base, "head": self.head,
                "checks": [{k: c.to_dict()[k] for k in keep} for c in self.checks]}


def resolve_sha(repo: Path, ref: str) -> str:
    from ..proc import run

    res = run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo, timeout=30)
    if res.missing:
        raise UserError("git is not installed; install git to run checks")
    if not res.ok:
        raise RepoError(f"{ref!r} is not a commit in {repo}; pass --base/--head as a branch, tag or sha")
    return res.stdout.strip()


def changed_files(repo: Path, base: str, head: str) -> tuple[str, ...]:
    """Repo-relative paths added, copied, modified or renamed in base..head."""
    from ._util import git

    if base == head:
        return ()
    out = git(repo, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT", base, head)
    return tuple(p for p in out.split("\0") if p)


def run_checks(
    repo: Path,
    base: str,
    head: str,
    policy: CheckPolicy,
    *,
    only: Sequence[str] | None = None,
    on_progress: ProgressFn | None = None,
    parallel: bool = True,
    evidence_dir: Path | None = None,
) -> GateReport:
    """Run the policy's checks (or `only` these) on `base..head` of the checkout `repo`.

    Reports the tools wrote (JSON outputs, the SBOMs) are evidence: their digests
    are always in the result; with `evidence_dir` the files are kept there too
    (e.g. the head SBOM for the provenance at G7), else they go with the scratch dir.
    """
    repo = Path(repo).resolve()
    if not (repo / ".git").exists():
        raise RepoError(f"{repo} is not a git checkout; pass --repo the root of a git repository")
    base_sha, head_sha = resolve_sha(repo, base), resolve_sha(repo, head)
    names = _select(only, policy)
    files = changed_files(repo, base_sha, head_sha)
    scratch_root = scratch_dir("shipyard-checks-")
    base_tree = BaseTree(repo, base_sha, scratch_root / "base-tree")
    try:
        def one(name: str) -> CheckResult:
            with tool_span(name, run_id=None) as span:
                result = _checked(name)
                span.set_attributes({"shipyard.check.status": result.status,
                                     "shipyard.check.blocking": result.blocking})
                return result

        def _checked(name: str) -> CheckResult:
            if on_progress:
                on_progress(name, None)
            scratch = scratch_root / name
            scratch.mkdir()
            ctx = CheckContext(repo=repo, base=base_sha, head=head_sha, policy=policy,
                               scratch=scratch, changed_files=files, parallel=parallel)
            result = _run_one(name, ctx)
            if name in BASELINED and base_sha != head_sha and result.status == "fail":
                result = judge_against_base(name, ctx, result, base_tree, _run_one)
            result = _apply_policy(_explained(result), policy)
            result = _keep_evidence(result, scratch_root, evidence_dir)
            if on_progress:
                on_progress(name, result)
            return result

        if parallel and len(names) > 1:
            # One check per core, the tests first: the suite is the longest check on almost
            # every change; the others queue for the other cores, their tools niced. All at
            # once at equal priority on 2 cores, secrets, SAST, lint and the SBOM slowed
            # crashtest's warm tests check from 0.65 s alone to 1.5 s (0.8-0.9 s now).
            order = sorted(names, key=lambda n: n not in _FOREGROUND)
            workers = min(len(names), os.cpu_count() or 2)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
                # each thread runs in a copy of this context: its tool span joins the trace
                futures = {n: pool.submit(contextvars.copy_context().run, _prioritised, one, n)
                           for n in order}
                results = tuple(futures[n].result() for n in names)
        else:
            results = tuple(one(n) for n in names)
        if only is None:  # on a shipyard branch: the G3 acceptance tests survive and pass
            from ..acceptance import acceptance_result

            if (acc := acceptance_result(repo, base_sha, head_sha, results, scratch_root)):
                results += (acc,)
                if on_progress:
                    on_progress(acc.name, acc)
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    return GateReport(passed=not any(r.blocks for r in results), base=base_sha, head=head_sha,
                      checks=results)


_FOREGROUND = ("tests",)  # the checks whose tools run at normal priority


def _prioritised(one: Callable[[str], CheckResult], name: str) -> CheckResult:
    if name not in _FOREGROUND:
        in_background()
    return one(name)


def tooling_status(policy: CheckPolicy | None = None) -> CheckResult:
    """G2's tooling-availability check: are the scanners and the advisory database present?"""
    from .tooling import status

    return status(policy or CheckPolicy())


def _select(only: Sequence[str] | None, policy: CheckPolicy) -> list[str]:
    known = registered_checks()
    names = list(dict.fromkeys(only)) if only else list(policy.checks)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown check(s) {unknown}; known checks: {sorted(known)}")
    return names


def _run_one(name: str, ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    try:
        result = REGISTRY[name](ctx)
    except Exception as exc:  # noqa: BLE001 — a crashing check is an error result, never a pass
        last = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"{type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
        result = CheckResult(name=name, status="error", summary=msg,
                             findings=(Finding(rule=f"{name}.crash", severity="high", path=None,
                                               line=None, message=msg),))
    if result.duration_s == 0.0:
        result = replace(result, duration_s=time.perf_counter() - started)
    return replace(result, name=name, duration_s=round(result.duration_s, 3))


def _explained(result: CheckResult) -> CheckResult:
    """DESIGN invariant 7: a `fail` or `error` always says why. A check that returned none
    has a bug; its summary becomes the finding so the user still sees the reason."""
    if result.status not in ("fail", "error") or result.findings:
        return result
    why = result.summary or f"{result.name} reported {result.status} without a reason (a bug)"
    return replace(result, findings=(Finding(rule=f"{result.name}.{result.status}",
                                             severity="high", path=None, line=None,
                                             message=why),))


def _apply_policy(result: CheckResult, policy: CheckPolicy) -> CheckResult:
    if result.name in ALWAYS_BLOCKING:
        return replace(result, blocking=True)
    blocking = result.name in policy.blocking
    if result.status == "error" and not policy.error_blocks:
        blocking = False
    return replace(result, blocking=blocking)


def _keep_evidence(result: CheckResult, scratch_root: Path, evidence_dir: Path | None) -> CheckResult:
    """Copy evidence files out of scratch (when asked) and name them relative to where they are."""
    kept = []
    for ev in result.evidence:
        src = Path(ev.path)
        if not src.is_absolute() or not src.is_relative_to(scratch_root):
            kept.append(ev)
            continue
        label = src.relative_to(scratch_root).as_posix()
        if evidence_dir is not None and src.is_file():
            dest = Path(evidence_dir) / label
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            label = str(dest)
        kept.append(Evidence(path=label, sha256=ev.sha256))
    return replace(result, evidence=tuple(kept))
