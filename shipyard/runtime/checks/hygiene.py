"""hygiene: offline equivalents of OpenSSF Scorecard's local checks.

Binary artifacts added by the change (or present, when there is no diff),
unpinned requirements, dangerous GitHub workflow patterns (the
pull_request_target + PR checkout "pwn request", `${{ github.event.* }}`
expanded inside `run:`, `permissions: write-all`, actions not pinned by commit
SHA), and a missing SECURITY.md or LICENSE. Findings at or above
`policy.hygiene_severity` fail the check.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

from .. import gittree
from ._util import declared_dependencies, finish, read_head
from .base import CheckContext, CheckResult, Finding

NAME = "hygiene"
_FILE_MODES = ("100644", "100755")
_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_BINARY_EXT = (".exe", ".dll", ".so", ".dylib", ".o", ".a", ".pyc", ".pyo", ".class", ".jar",
               ".war", ".whl", ".egg", ".bin", ".elf")
_MAGIC = (b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xce")
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^\s'\"#]+)")
_SHA = re.compile(r"@[0-9a-f]{40}$")
_EVENT_EXPR = re.compile(r"\$\{\{\s*github\.(event\.[\w.\[\]'\"-]+|head_ref)")
_PR_REF = re.compile(r"github\.(event\.pull_request\.head\.(sha|ref)|head_ref|"
                     r"event\.pull_request\.merge_commit_sha)|refs/pull/")


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    files = {e.path: e for e in gittree.entries(ctx.repo, ctx.head) if e.mode in _FILE_MODES}
    tracked = sorted(files)
    judged = [files[p] for p in (ctx.changed_files if ctx.base != ctx.head or ctx.changed_files else tracked)
              if p in files]
    wf_paths = [p for p in tracked if re.match(r"^\.github/workflows/[^/]+\.ya?ml$", p)]
    content = dict(gittree.blobs(ctx.repo, judged + [files[p] for p in wf_paths]))
    findings = _binaries([(e.path, content[e]) for e in judged])
    findings += _unpinned(ctx, tracked)
    for e in (files[p] for p in wf_paths):
        findings += _workflow(e.path, content[e].decode("utf-8", errors="replace"))
    findings += _missing_files(tracked)
    threshold = _RANK[ctx.policy.hygiene_severity]
    findings = [replace(f, fails=_RANK[f.severity] >= threshold) for f in findings]
    failing = [f for f in findings if f.fails]
    return finish(NAME, started, findings, failed=bool(failing),
                  summary=f"{len(failing)} finding(s) at or above {ctx.policy.hygiene_severity}, "
                          f"{len(findings)} in all")


def _binaries(files: list[tuple[str, bytes]]) -> list[Finding]:
    """Executables and binary files the head commit holds (from git's objects, not a checkout)."""
    out = []
    for p, data in files:
        head = data[:8192]
        kind = next((m for m in _MAGIC if head.startswith(m)), None)
        if kind or p.lower().endswith(_BINARY_EXT) or (b"\0" in head and not _is_media(p, head)):
            what = "executable" if kind else "binary file"
            if not kind and _media_magic(p) is not None:
                what = f"binary file named {Path(p).suffix} whose content is not {Path(p).suffix}"
            out.append(Finding(rule="hygiene.binary-artifact", severity="high", path=p, line=None,
                               message=f"{what} committed; build it in CI from source instead "
                                       f"(Scorecard Binary-Artifacts)"))
    return out


# Images, fonts and archives are binary but not executable (Scorecard does not count them
# either) — when their content starts like one: a NUL-laden file merely *named* .png is not.
_MEDIA = {".png": (b"\x89PNG",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
          ".gif": (b"GIF8",), ".ico": (b"\0\0\1\0",), ".webp": (b"RIFF",), ".pdf": (b"%PDF",),
          ".woff": (b"wOFF",), ".woff2": (b"wOF2",), ".ttf": (b"\0\1\0\0", b"true"),
          ".otf": (b"OTTO",), ".svgz": (b"\x1f\x8b",), ".gz": (b"\x1f\x8b",),
          ".zip": (b"PK\x03\x04", b"PK\x05\x06")}


def _media_magic(p: str) -> tuple[bytes, ...] | None:
    return _MEDIA.get(Path(p).suffix.lower())


def _is_media(p: str, head: bytes) -> bool:
    magic = _media_magic(p)
    return magic is not None and head.startswith(magic)


def _unpinned(ctx: CheckContext, tracked: list[str]) -> list[Finding]:
    out = []
    for dep in declared_dependencies(read_head(ctx), tracked):
        if dep.path.endswith(".txt") and dep.pinned is None:
            out.append(Finding(rule="hygiene.unpinned-dependency", severity="low", path=dep.path,
                               line=dep.line, message=f"{dep.spec!r} is not pinned with =="))
    return out


def _workflow(path: str, text: str) -> list[Finding]:
    lines = text.splitlines()
    out: list[Finding] = []
    prt = re.search(r"^\s*(on:.*\bpull_request_target\b|pull_request_target\s*:?)", text, re.MULTILINE)
    run_indent: int | None = None
    for i, line in enumerate(lines, 1):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if run_indent is not None and stripped and indent <= run_indent:
            run_indent = None
        m_run = re.match(r"(-\s+)?run:\s*(.*)$", stripped)
        in_run = run_indent is not None or m_run is not None
        if m_run is not None:
            run_indent = indent if m_run[2].strip() in ("|", ">", "|-", ">-", "") else None
        if in_run and (e := _EVENT_EXPR.search(line)):
            out.append(Finding(rule="hygiene.script-injection", severity="high", path=path, line=i,
                               message=f"${{{{ github.{e[1]} }}}} expanded inside run: — pass it "
                                       f"through env: and quote it (Scorecard Dangerous-Workflow)"))
        if re.match(r"permissions:\s*write-all\b", stripped):
            out.append(Finding(rule="hygiene.write-all", severity="high", path=path, line=i,
                               message="permissions: write-all; grant only the scopes the job "
                                       "needs (Scorecard Token-Permissions)"))
        if (f := _unpinned_action(path, i, line)) is not None:
            out.append(f)
        if prt and "ref:" in stripped and _PR_REF.search(line):
            out.append(Finding(rule="hygiene.pwn-request", severity="critical", path=path, line=i,
                               message="pull_request_target checks out the pull request's code, "
                                       "which then runs with the base repo's secrets; use "
                                       "pull_request (Scorecard Dangerous-Workflow)"))
    return out


def _unpinned_action(path: str, i: int, line: str) -> Finding | None:
    u = _USES.match(line)
    if u is None or u[1].startswith(("./", "docker://")) or _SHA.search(u[1]):
        return None
    # GitHub's own actions are a smaller supply-chain risk than a stranger's tag.
    sev = "low" if u[1].startswith(("actions/", "github/")) else "medium"
    return Finding(rule="hygiene.unpinned-action", severity=sev, path=path, line=i,
                   message=f"{u[1]} is not pinned by commit SHA (Scorecard Pinned-Dependencies)")


def _missing_files(tracked: list[str]) -> list[Finding]:
    names = {p.lower() for p in tracked}
    out = []
    if not ({"security.md", ".github/security.md", "docs/security.md"} & names):
        out.append(Finding(rule="hygiene.no-security-policy", severity="low", path="SECURITY.md",
                           line=None, message="no SECURITY.md: say how to report a vulnerability "
                                              "(Scorecard Security-Policy)"))
    if not any(re.match(r"^(licen[cs]e|copying)(\.\w+)?$", n) for n in names):
        out.append(Finding(rule="hygiene.no-license", severity="low", path="LICENSE", line=None,
                           message="no LICENSE file (Scorecard License)"))
    return out
