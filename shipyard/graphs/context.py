"""What the Implementer and the Test Engineer are shown, and what the request names.

`relevant_files`: the files the request names, the planned files and the files defining
what the request names, then the repository map's BM25 ranking (runtime/repomap.py),
within FILES_LIMIT. `targets` / `named`: the functions a request talks about.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..runtime import repomap

if TYPE_CHECKING:
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["FILES_LIMIT", "IDENT", "NOT_TARGETS", "defined_in_repo", "defs", "existing",
           "is_test", "named", "planned_files", "relevant_files", "targets"]

FILES_LIMIT = 12_000       # characters of source shown (the embedded model has an 8k window)
IDENT = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`?\(|`([A-Za-z_][A-Za-z0-9_]*)`")
NOT_TARGETS = set(dir(builtins)) | set(keyword.kwlist) | {"self", "cls"}
is_test = repomap.is_test_path


def relevant_files(n: Nodes, s: FeatureState) -> dict[str, str]:
    """The files the change is about, within FILES_LIMIT: files the request names, the
    planner's files and the files defining what the request names come first; then the
    repository map's BM25 ranking by the request's terms (runtime/repomap.py). A file too
    big for what is left is shown as its outline (signatures and docstrings).

    Test files are left out unless the request names them: tests are G3's job, and a small
    model shown the acceptance tests rewrites them instead of the code."""
    ws = n.env.workspace(s)
    tracked = [f for f in ws.git.tracked_files("HEAD") if not f.startswith("docs/")]
    mentioned = [f for f in tracked if f in s["feature"]]
    source = [f for f in tracked if f.endswith(".py") and not is_test(f)]
    names = targets(s["feature"])
    defining = [f for f in source if names & defs(read(ws.path, f))]
    planned = [f for f in planned_files(s) if f in tracked and not is_test(f)]
    first = list(dict.fromkeys([*mentioned, *planned, *defining]))
    tree = repomap.Tree.from_dir(ws.path, list(dict.fromkeys([*first, *source])))
    return repomap.relevant_files(tree, s["feature"], first, budget_chars=FILES_LIMIT)


def planned_files(s: FeatureState) -> list[str]:
    files = list((s.get("rfc") or {}).get("files", []))
    for t in (s.get("delivery") or {}).get("tasks", []):
        files += t.get("files", [])
    return [f.strip().lstrip("./") if f.strip().startswith("./") else f.strip() for f in files]


def targets(feature: str) -> set[str]:
    """Function names the request talks about: `name(` or `name` in backticks."""
    found = {a or b for a, b in IDENT.findall(feature)}
    return {n for n in found if n not in NOT_TARGETS}


def read(root: Path, rel: str) -> str:
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def defs(text: str) -> set[str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}





def named(feature: str) -> set[str]:
    """Functions the request names as its own (`slugify(text)`, not `os.system(`)."""
    undotted = {m.group(1) or m.group(2) for m in IDENT.finditer(feature)
                if not feature[:m.start()].endswith(".")}
    return targets(feature) & undotted


def defined_in_repo(root: Path, name: str, *, skip: set[str]) -> bool:
    from ..runtime.proc import run as run_proc

    res = run_proc(["git", "grep", "-l", "-E", rf"^\s*(async\s+)?(def|class)\s+{name}\b", "--",
                    "*.py"], cwd=root, timeout=30)
    return any(p not in skip for p in res.stdout.split())




def existing(root: Path, rel: str) -> str | None:
    path = root / rel
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None

