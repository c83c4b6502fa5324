"""lint: ruff on the Python files the change touched, with the *base's* ruff config.

ruff runs on a copy of the head commit's tree (never the working copy), with
every ruff config file replaced by the base's: the change under review cannot
exclude its own files or ignore rules. Suppressions it adds (`# noqa`, a
loosened config) are findings too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..proc import run as run_proc
from ._suppress import (
    RUFF_CONFIGS,
    added_suppressions,
    default_rules,
    loosened_config,
    with_base_config,
)
from ._util import evidence, extract_tree, finish, rel, tool, tool_error, tracked_files
from .base import CheckContext, CheckResult, Finding

NAME = "lint"


def python_files(ctx: CheckContext) -> list[str]:
    """Python files base..head adds or changes (they exist at head)."""
    return [f for f in ctx.changed_files if f.endswith((".py", ".pyi"))]


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    files = python_files(ctx)
    tracked = tracked_files(ctx.repo, ctx.head)
    config = loosened_config(ctx, tracked)
    if not files:
        return finish(NAME, started, config, failed=bool(config),
                      summary="no Python files changed")
    # Python files and configs only: ruff needs the package layout, not the repo's assets.
    wanted = {p for p in tracked
              if p.endswith((".py", ".pyi")) or Path(p).name in RUFF_CONFIGS}
    tree = extract_tree(ctx.repo, ctx.head, ctx.scratch / "head", paths=wanted)
    with_base_config(ctx, tree)
    # --no-cache: ruff would otherwise write .ruff_cache; --ignore-noqa: a noqa hides nothing.
    res = run_proc([tool("ruff"), "check", "--no-cache", "--no-fix", "--ignore-noqa", "--output-format",
                    "json", "--force-exclude", *default_rules(tree), "--", *files],
                   cwd=tree, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    if res.returncode not in (0, 1):
        return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                           summary=f"ruff exited {res.returncode}: {res.stderr.strip()[:300]}")
    report = ctx.scratch / "ruff.json"
    report.write_text(res.stdout)
    findings = [Finding(rule=f"ruff.{d['code'] or 'syntax'}", severity="low",
                        path=rel(tree, d["filename"]), line=d["location"]["row"],
                        message=d["message"]) for d in json.loads(res.stdout or "[]")]
    findings += added_suppressions(ctx, files, "lint") + config
    return finish(NAME, started, findings, failed=bool(findings),
                  summary=f"{len(findings)} issue(s) in {len(files)} file(s)",
                  evidence=(evidence(report),))
