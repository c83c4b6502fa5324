"""sast: bandit (JSON) and ruff's flake8-bandit `S` rules on the changed Python files.

A finding at or above `policy.sast_severity` fails the check. Both tools see
the same files; a ruff `S` finding that bandit also reported (same line, same
B-number) is dropped so each problem is listed once.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

from ..proc import run as run_proc
from ..repomap import is_test_path
from ._suppress import added_suppressions
from ._util import concurrently, evidence, extract_tree, finish, rel, tool, tool_error
from .base import CheckContext, CheckResult, Finding
from .lint import python_files

NAME = "sast"
_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
# ruff S rules bandit has no plugin for, or rates differently; unknown S rules count as "low".
_RUFF_SEVERITY = {"S102": "high", "S307": "medium", "S301": "medium", "S506": "medium",
                  "S602": "high", "S604": "high", "S605": "high", "S608": "medium",
                  "S701": "high", "S105": "low", "S106": "low", "S107": "low"}


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    files = python_files(ctx)
    if not files:
        return finish(NAME, started, [], failed=False, summary="no Python files changed")
    timeout = ctx.policy.timeout_s
    # The head's files, from git's objects, in a directory holding no config of the repo's.
    tree = extract_tree(ctx.repo, ctx.head, ctx.scratch / "head", paths=set(files))
    bres, rres = concurrently(
        ctx,
        # --ignore-nosec: a `# nosec` the change adds must not hide the line from bandit.
        lambda: run_proc([tool("bandit"), "-f", "json", "-q", "--ignore-nosec", "--", *files],
                         cwd=tree, timeout=timeout),
        # --isolated: the repo's own ruff config must not be able to switch the S rules off;
        # --ignore-noqa: nor can an inline noqa comment (for S602, say).
        lambda: run_proc([tool("ruff"), "check", "--isolated", "--no-cache", "--ignore-noqa",
                          "--select", "S", "--output-format", "json", "--", *files], cwd=tree,
                         timeout=timeout))
    for res in (bres, rres):
        if (err := tool_error(NAME, res)) is not None:
            return err
    if bres.returncode not in (0, 1) or not bres.stdout.strip().startswith("{"):
        return CheckResult(name=NAME, status="error", duration_s=bres.duration_s,
                           summary=f"bandit exited {bres.returncode}: {bres.stderr.strip()[-300:]}")
    if rres.returncode not in (0, 1):
        return CheckResult(name=NAME, status="error", duration_s=rres.duration_s,
                           summary=f"ruff exited {rres.returncode}: {rres.stderr.strip()[-300:]}")
    (ctx.scratch / "bandit.json").write_text(bres.stdout)
    (ctx.scratch / "ruff-s.json").write_text(rres.stdout)
    findings = _bandit(tree, json.loads(bres.stdout))
    seen = {(f.path, f.line, f.rule.split(".")[-1][1:]) for f in findings}
    for d in json.loads(rres.stdout or "[]"):
        path, line, code = rel(tree, d["filename"]), d["location"]["row"], d["code"]
        if (path, line, code[1:]) in seen:
            continue
        findings.append(Finding(rule=f"ruff.{code}", severity=_RUFF_SEVERITY.get(code, "low"),
                                path=path, line=line, message=d["message"]))
    # `assert` is how pytest tests say what they expect (bandit's docs skip B101 in tests).
    findings = [f for f in findings if not (f.rule in _ASSERT and is_test_path(f.path or ""))]
    findings += added_suppressions(ctx, files, "sast")
    threshold = _RANK[ctx.policy.sast_severity]
    findings = [replace(f, fails=_RANK[f.severity] >= threshold) for f in findings]
    blocking = [f for f in findings if f.fails]
    return finish(NAME, started, findings, failed=bool(blocking),
                  summary=f"{len(blocking)} finding(s) at or above {ctx.policy.sast_severity}, "
                          f"{len(findings)} in all",
                  evidence=(evidence(ctx.scratch / "bandit.json"),
                            evidence(ctx.scratch / "ruff-s.json")))


def _bandit(tree: Path, doc: dict) -> list[Finding]:
    out = []
    for err in doc.get("errors", []):
        out.append(Finding(rule="bandit.parse-error", severity="low",
                           path=rel(tree, err.get("filename", "")), line=None,
                           message=err.get("reason", "bandit could not parse the file")))
    for r in doc.get("results", []):
        out.append(Finding(rule=f"bandit.{r['test_id']}", severity=r["issue_severity"].lower(),
                           path=rel(tree, r["filename"]), line=r["line_number"],
                           message=f"{r['test_name']}: {_mask_literal(r['issue_text'])}"))
    return out


_ASSERT = ("bandit.B101", "ruff.S101")
_QUOTED = re.compile(r"""(:\s*)(['"]).*\2\s*$""")


def _mask_literal(text: str) -> str:
    """bandit's hardcoded-password messages quote the password itself; the finding is
    about the secret, so it must not carry it into the ledger or a reviewer's prompt."""
    if "password" in text.lower() or "secret" in text.lower() or "token" in text.lower():
        return _QUOTED.sub(r"\1\2***\2", text)
    return text

