"""Shared machinery of the checks: git plumbing, tool lookup, declared dependencies."""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..gittree import read_blob, write_tree
from ..proc import ProcResult, run
from .base import CheckContext, CheckResult, Evidence, Finding, sha256_file

__all__ = [
    "TOOL_PACKAGES",
    "DeclaredDep",
    "Reader",
    "changed_paths",
    "concurrently",
    "declared_dependencies",
    "evidence",
    "extract_tree",
    "finish",
    "git",
    "pytest_rewrites",
    "read_at",
    "read_base",
    "read_head",
    "rel",
    "target_python",
    "tool",
    "tool_error",
    "tracked_files",
    "tree_id",
    "write_whole",
]

Reader = Callable[[str], str | None]
T = TypeVar("T")


def git(repo: Path, *args: str, timeout: float = 60) -> str:
    """Run git in `repo` and return stdout; raise RuntimeError with git's message on failure."""
    res = run(["git", *args], cwd=repo, timeout=timeout)
    if not res.ok:
        raise RuntimeError(f"git {' '.join(args)} failed: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


_TREES: dict[tuple[str, str], str] = {}
_FULL_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def tree_id(repo: Path, sha: str) -> str:
    """The id of commit `sha`'s tree. A commit's tree never changes, so a full commit id's is
    read from git once a process: a warm check asked for each of its two trees twice, and
    each git process costs 3-8 ms against a suite of 0.3 s (crashtest)."""
    key = (str(repo), sha)
    if (known := _TREES.get(key)) is not None:
        return known
    tree = git(repo, "rev-parse", f"{sha}^{{tree}}").strip()
    if _FULL_SHA.fullmatch(sha):
        _TREES[key] = tree
    return tree


def changed_paths(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """(git status letter, path) of every path changed base..head, deletions included."""
    fields = git(repo, "diff", "--name-status", "--no-renames", "-z", base, head).split("\0")
    return list(zip(fields[0::2], fields[1::2], strict=False))  # the trailing '' drops


def concurrently(ctx: CheckContext, *calls: Callable[[], T]) -> list[T]:
    """Run `calls` in threads when the run is parallel, one after another otherwise."""
    if not ctx.parallel or len(calls) < 2:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def pytest_rewrites(name: str) -> bool:
    """Whether pytest imports the file `name` through its assertion rewriter (by default
    conftest.py, test_*.py and *_test.py), into pycs of its own."""
    return name == "conftest.py" or (name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py")))


def tracked_files(repo: Path, sha: str) -> list[str]:
    """Every file path in commit `sha`."""
    return [p for p in git(repo, "ls-tree", "-r", "-z", "--name-only", sha).split("\0") if p]


def tool(name: str) -> str:
    """The executable `name`, preferring the one installed next to this Python.

    Inside a venv the tools sit beside `sys.executable` whether or not the venv
    is on PATH; falling back to PATH keeps system installs working.
    """
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name) or name  # a missing tool shows up as ProcResult.missing


def write_whole(path: Path, data: str | bytes) -> None:
    """Write `path` through a temporary file and a rename: a cache another thread or
    process reads at the same time (head and base of one check, two checks) sees the old
    file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    os.replace(tmp, path)


def target_python(repo: Path) -> str:
    """The interpreter of the target repo's own venv if it has one, else ours."""
    for cand in (repo / ".venv" / "bin" / "python", repo / "venv" / "bin" / "python"):
        if cand.is_file():
            return str(cand)
    return sys.executable


# executable -> the pip package that provides it, for messages that name the fix
TOOL_PACKAGES = {"ruff": "ruff", "bandit": "bandit", "detect-secrets": "detect-secrets",
                 "cyclonedx-py": "cyclonedx-bom", "pip-licenses": "pip-licenses"}


def tool_error(name: str, res: ProcResult) -> CheckResult | None:
    """An `error` result when the tool is missing, hung or crashed; None when it ran."""
    if res.missing:
        exe = Path(str(res.args[0])).name
        package = TOOL_PACKAGES.get(exe)
        fix = (f"pip install {package} into the environment shipyard runs in" if package
               else f"install {exe} and put it on PATH")
        why = f"{exe} is not installed ({res.args[0]} not found); {fix}"
    elif res.timed_out:
        why = f"{Path(res.args[0]).name} timed out after {res.duration_s:.0f}s; raise policy.timeout_s"
    else:
        return None
    # a missing tool has its own rule: no change to the code can make it run (graphs/review.py
    # `unrunnable` ends a run on it instead of sending the Implementer back), a hang may be
    # the code's own doing
    rule = f"{name}.tool_missing" if res.missing else f"{name}.tool"
    return CheckResult(name=name, status="error", duration_s=res.duration_s, summary=why,
                       findings=(Finding(rule=rule, severity="high", path=None, line=None,
                                         message=why),))


def rel(repo: Path, path: str) -> str:
    """`path` relative to `repo`, with forward slashes (tools often report absolute paths)."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(repo.resolve())
        except ValueError:
            return str(p)
    return p.as_posix().removeprefix("./")


def read_at(repo: Path, sha: str) -> Reader:
    """Files of commit `sha` as text, read from git's objects (never the working copy)."""
    def _read(path: str) -> str | None:
        data = read_blob(repo, sha, path)
        return None if data is None else data.decode("utf-8", errors="replace")
    return _read


def read_head(ctx: CheckContext) -> Reader:
    """The head commit's files: `gates check --head REF` judges REF, whatever is checked out."""
    return read_at(ctx.repo, ctx.head)


def read_base(ctx: CheckContext) -> Reader:
    return read_at(ctx.repo, ctx.base)


def extract_tree(repo: Path, sha: str, dest: Path, *, paths: set[str] | None = None) -> Path:
    """Export commit `sha` into `dest` from git's objects — nothing is written into `repo`.

    Not `git archive`: the tree's own `.gitattributes` (export-ignore, export-subst)
    would decide which files the checks see."""
    return write_tree(repo, sha, dest, paths=paths)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeclaredDep:
    name: str           # canonical (PEP 503) name
    spec: str           # the requirement as written
    pinned: str | None  # the exact version when pinned with == / ===
    path: str
    line: int


_REQ_FILES = re.compile(r"^(requirements[^/]*\.txt|requirements/[^/]+\.txt)$")


def declared_dependencies(read: Reader, files: list[str]) -> list[DeclaredDep]:
    """Dependencies declared in pyproject.toml and requirements*.txt, with file and line."""
    deps: list[DeclaredDep] = []
    if (text := read("pyproject.toml")) is not None:
        deps += _from_pyproject(text)
    for path in sorted(f for f in files if _REQ_FILES.match(f)):
        if (text := read(path)) is not None:
            deps += _from_requirements(text, path)
    return deps


def _dep(spec: str, path: str, line: int) -> DeclaredDep | None:
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return None
    pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    return DeclaredDep(name=canonicalize_name(req.name), spec=spec, pinned=pins[0] if pins else None,
                       path=path, line=line)


def _from_pyproject(text: str) -> list[DeclaredDep]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    project = data.get("project", {})
    specs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs += list(extra)
    lines = text.splitlines()
    out = []
    for spec in specs:
        # tomllib keeps no positions: the first line quoting the spec is where it is declared.
        line = next((i for i, ln in enumerate(lines, 1) if f'"{spec}"' in ln or f"'{spec}'" in ln), 1)
        if (d := _dep(spec, "pyproject.toml", line)) is not None:
            out.append(d)
    return out


def _from_requirements(text: str, path: str) -> list[DeclaredDep]:
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:")):
            continue
        line = line.split(" --hash", 1)[0].strip()
        if (d := _dep(line, path, i)) is not None:
            out.append(d)
    return out


def finish(name: str, started: float, findings: list[Finding], *, failed: bool,
           summary: str, evidence: tuple[Evidence, ...] = ()) -> CheckResult:
    return CheckResult(name=name, status="fail" if failed else "pass", findings=tuple(findings),
                       evidence=evidence, duration_s=time.perf_counter() - started, summary=summary)


def evidence(path: Path) -> Evidence:
    """Evidence for a file a check wrote into its scratch dir (run_checks relabels it)."""
    return Evidence(path=str(path), sha256=sha256_file(path))
