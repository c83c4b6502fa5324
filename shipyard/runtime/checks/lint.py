"""lint: ruff on the Python files the change touched, with the repo's own ruff config."""

from __future__ import annotations

import json
import time

from ..proc import run as run_proc
from ._util import evidence, finish, rel, tool, tool_error
from .base import CheckContext, CheckResult, Finding

NAME = "lint"


def python_files(ctx: CheckContext) -> list[str]:
    return [f for f in ctx.changed_files if f.endswith((".py", ".pyi")) and (ctx.repo / f).is_file()]


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    files = python_files(ctx)
    if not files:
        return finish(NAME, started, [], failed=False, summary="no Python files changed")
    # --no-cache, --no-fix: ruff would otherwise write .ruff_cache into the target repo, and
    # apply fixes to its files when its config says `fix = true`.
    res = run_proc([tool("ruff"), "check", "--no-cache", "--no-fix", "--output-format", "json",
                    "--force-exclude", "--", *files],
                   cwd=ctx.repo, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    if res.returncode not in (0, 1):
        return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                           summary=f"ruff exited {res.returncode}: {res.stderr.strip()[:300]}")
    report = ctx.scratch / "ruff.json"
    report.write_text(res.stdout)
    findings = [Finding(rule=f"ruff.{d['code'] or 'syntax'}", severity="low",
                        path=rel(ctx.repo, d["filename"]), line=d["location"]["row"],
                        message=d["message"]) for d in json.loads(res.stdout or "[]")]
    return finish(NAME, started, findings, failed=bool(findings),
                  summary=f"{len(findings)} issue(s) in {len(files)} file(s)",
                  evidence=(evidence(report),))
