"""Judge the change, not the repository's past (DESIGN invariant 6).

When a check fails on the head, the same check runs on the base — on a checkout
of the base commit, over the files the change touched — and each head finding
is matched with the base's by a fingerprint that survives line shifts: the
rule, the path, the finding's line text with whitespace collapsed, and its
message with digits masked. A head finding whose fingerprint the base already
has (as many times) is marked `new=False`: reported as context, never
blocking. A tool's line can disagree with the committed text (a working copy
that differs from the head commit, a multi-line statement reported at another
of its lines), so findings left over are then matched on rule + path + message
alone, again counted: the change must add one more of the same finding to a
file for it to be new. The check fails only on new findings that count toward
its verdict.

Checks that are relative to the base by construction are not run twice:
secrets (added lines only), sbom (the base..head SBOM diff) and tests
(coverage is compared with the base by the check itself).
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..proc import run as run_proc
from .base import CheckContext, CheckResult, Finding

__all__ = ["BASELINED", "BaseTree", "compare", "fingerprint", "judge_against_base", "old_findings"]

# The built-in checks whose findings are compared with the base's.
BASELINED: set[str] = {"lint", "sast", "hygiene", "deps", "licenses"}

RunFn = Callable[[str, CheckContext], CheckResult]
LineReader = Callable[[str, int], str]


class BaseTree:
    """A checkout of the base commit made on first use and shared by the checks of one run.

    A `git clone --shared --no-checkout` of the head's repository: it borrows the objects,
    so it costs one checkout, and nothing is written into the user's repository.
    """

    def __init__(self, repo: Path, base: str, dest: Path) -> None:
        self.repo, self.base, self.dest = repo, base, dest
        self._lock = threading.Lock()
        self._ready = False

    def path(self) -> Path:
        with self._lock:
            if not self._ready:
                shutil.rmtree(self.dest, ignore_errors=True)
                _git(self.dest.parent, "clone", "--quiet", "--shared", "--no-checkout",
                     str(self.repo), str(self.dest))
                _git(self.dest, "-c", "advice.detachedHead=false", "checkout", "--quiet",
                     "--detach", self.base)
                self._ready = True
        return self.dest


def _git(cwd: Path, *args: str) -> str:
    res = run_proc(["git", *args], cwd=cwd, timeout=300)
    if not res.ok:
        raise RuntimeError(f"git {args[0]} of the base failed: {res.stderr.strip()[-300:]}")
    return res.stdout


def fingerprint(f: Finding, line_text: str) -> str:
    """rule + path + the line's text (whitespace collapsed) + the message (digits masked)."""
    return "\x1f".join((f.rule, f.path or "", " ".join(line_text.split()),
                        re.sub(r"\d+", "#", f.message)))


def file_lines(repo: Path, sha: str) -> LineReader:
    """`read(path, line) -> text` of the file at commit `sha`, each file read once."""
    cache: dict[str, list[str]] = {}

    def read(path: str, line: int) -> str:
        if path not in cache:
            res = run_proc(["git", "show", f"{sha}:{path}"], cwd=repo, timeout=60)
            cache[path] = res.stdout.splitlines() if res.ok else []
        lines = cache[path]
        return lines[line - 1] if 0 < line <= len(lines) else ""
    return read


def _fingerprints(findings: Iterable[Finding], read: LineReader) -> list[str]:
    return [fingerprint(f, read(f.path, f.line) if f.path and f.line else "") for f in findings]


def old_findings(head: Sequence[Finding], base: Sequence[Finding], read_head: LineReader,
                 read_base: LineReader) -> list[bool]:
    """Which head findings the base already had, each base finding matching at most one:
    by fingerprint first, then the rest by rule + path + message alone."""
    used, old = [False] * len(base), [False] * len(head)
    passes = ((_fingerprints(head, read_head), _fingerprints(base, read_base)),
              ([fingerprint(f, "") for f in head], [fingerprint(f, "") for f in base]))
    for head_keys, base_keys in passes:
        pool: dict[str, list[int]] = {}
        for i, key in enumerate(base_keys):
            if not used[i]:
                pool.setdefault(key, []).append(i)
        for j, key in enumerate(head_keys):
            if not old[j] and pool.get(key):
                used[pool[key].pop(0)] = old[j] = True
    return old


def compare(head: CheckResult, base: CheckResult, read_head: LineReader,
            read_base: LineReader) -> CheckResult:
    """`head` with the findings the base already had marked old, and its verdict re-judged."""
    old = old_findings(head.findings, base.findings, read_head, read_base)
    marked = [replace(f, new=not o) for f, o in zip(head.findings, old, strict=True)]
    old_count = sum(not f.new for f in marked)
    if head.status != "fail" or old_count == 0:
        return replace(head, findings=tuple(marked))
    failing_new = [f for f in marked if f.new and f.fails]
    note = f"{old_count} finding(s) already on the base: context, not blocking"
    return replace(head, findings=tuple(marked), status="fail" if failing_new else "pass",
                   summary=f"{head.summary}; {note}" if head.summary else note)


def judge_against_base(name: str, ctx: CheckContext, head: CheckResult, tree: BaseTree,
                       run_one: RunFn) -> CheckResult:
    """Run check `name` on the base tree and `compare`; the head result alone if that fails.
    The time spent on the base is added to the result's duration."""
    started = time.perf_counter()
    result = _against_base(name, ctx, head, tree, run_one)
    return replace(result, duration_s=head.duration_s + time.perf_counter() - started)


def _against_base(name: str, ctx: CheckContext, head: CheckResult, tree: BaseTree,
                  run_one: RunFn) -> CheckResult:
    try:
        root = tree.path()
    except RuntimeError as exc:
        return replace(head, summary=f"{head.summary}; no base comparison: {exc}")
    scratch = ctx.scratch / "base-run"
    scratch.mkdir(exist_ok=True)
    base_ctx = replace(ctx, repo=root, head=ctx.base, scratch=scratch, origin=ctx.env_root,
                       changed_files=tuple(f for f in ctx.changed_files if (root / f).is_file()))
    base = run_one(name, base_ctx)
    if base.status == "error":
        return replace(head, summary=f"{head.summary}; no base comparison: the check errored on "
                                     f"the base ({base.summary[:200]})")
    return compare(head, base, file_lines(ctx.repo, ctx.head), file_lines(ctx.repo, ctx.base))
