"""secrets: detect-secrets on the lines and files the change adds.

Only added lines count: a secret already in the base is the base's problem,
and one listed in the base's `.secrets.baseline` has been audited. The head's
baseline is not trusted — a change could list its own secret there. The scan
runs with `--no-verify`: detect-secrets never calls out to check a key.
Secrets always block, whatever the policy.
"""

from __future__ import annotations

import json
import re
import shutil
import time

from ..proc import run as run_proc
from ._util import evidence, finish, git, read_base, tool, tool_error
from .base import CheckContext, CheckResult, Finding

NAME = "secrets"
BASELINE = ".secrets.baseline"
_HUNK = re.compile(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def added_lines(ctx: CheckContext) -> dict[str, set[int]]:
    """Line numbers (at head) each changed text file gains in base..head."""
    diff = git(ctx.repo, "-c", "core.quotePath=false", "diff", "--unified=0", "--no-color", "--no-renames", "--no-ext-diff",
               ctx.base, ctx.head, timeout=120)
    out: dict[str, set[int]] = {}
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
            if current is not None:
                out.setdefault(current, set())
        elif current is not None and (m := _HUNK.match(line)):
            start, count = int(m[1]), int(m[2] if m[2] is not None else 1)
            out[current].update(range(start, start + count))
    return out


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    added = {p: s for p, s in added_lines(ctx).items() if s and p != BASELINE}
    files = [p for p in added if (ctx.repo / p).is_file()]
    if not files:
        return finish(NAME, started, [], failed=False, summary="no lines added")
    tree = ctx.scratch / "tree"
    for p in files:  # scan a copy: detect-secrets must not see (or touch) the rest of the repo
        (tree / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ctx.repo / p, tree / p)
    res = run_proc([tool("detect-secrets"), "scan", "--no-verify", "--all-files", "--", *files],
                   cwd=tree, timeout=ctx.policy.timeout_s)
    if (err := tool_error(NAME, res)) is not None:
        return err
    if res.returncode != 0 or not res.stdout.strip().startswith("{"):
        return CheckResult(name=NAME, status="error", duration_s=res.duration_s,
                           summary=f"detect-secrets exited {res.returncode}: "
                                   f"{res.stderr.strip()[-300:]}")
    report = ctx.scratch / "detect-secrets.json"
    report.write_text(res.stdout)
    known = _baseline(ctx)
    findings = []
    for path, hits in json.loads(res.stdout).get("results", {}).items():
        for hit in hits:
            line = hit.get("line_number")
            if line not in added.get(path, ()) or (path, hit["hashed_secret"]) in known:
                continue
            findings.append(Finding(rule=f"secrets.{hit['type'].replace(' ', '-')}",
                                    severity="critical", path=path, line=line,
                                    message=f"{hit['type']} added; remove it, rotate it, and load "
                                            f"it from the environment or a secret store"))
    return finish(NAME, started, findings, failed=bool(findings),
                  summary=f"{len(findings)} new secret(s) in {len(files)} file(s)",
                  evidence=(evidence(report),))


def _baseline(ctx: CheckContext) -> set[tuple[str, str]]:
    text = read_base(ctx)(BASELINE)
    if not text:
        return set()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return set()
    return {(path, h["hashed_secret"]) for path, hits in doc.get("results", {}).items()
            for h in hits if "hashed_secret" in h}
