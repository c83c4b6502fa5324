"""Ruff on a candidate before it is committed: safe fixes that leave the old lines alone,
then lint of the lines the candidate changed. Ruff never runs the code it reads."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from .context import existing

__all__ = ["expand_star_imports", "fix_and_lint", "import_stdlib", "ruff_stdin"]


def fix_and_lint(root: Path, files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Ruff's safe fixes where they leave the file's old lines alone; then lint of the
    lines the candidate changed. Ruff never runs the code it reads."""
    from ..runtime.checks._suppress import default_rules

    out, problems = dict(files), []
    rules = default_rules(root)  # the rules the G5 lint check will apply
    for rel, text in files.items():
        if not rel.endswith(".py"):
            continue
        old = existing(root, rel) or ""
        # Safe fixes, then one unsafe fix only: an unused local (F841) is dropped, keeping a
        # right-hand side that may have effects. Small models leave such variables behind and
        # then cannot find them from the lint message alone.
        for fix in ((*rules,), ("--unsafe-fixes", "--select", "F841")):
            res = ruff_stdin(root, rel, text, "check", "--fix", "--exit-zero", "--quiet", *fix)
            if res.ok and res.stdout.strip() and _keeps_old_lines(old, text, res.stdout):
                out[rel] = text = res.stdout
        res = ruff_stdin(root, rel, text, "check", "--output-format", "concise", *rules)
        new_lines = _changed_lines(old, text)
        for line in res.stdout.splitlines():
            m = re.match(rf"{re.escape(rel)}:(\d+):\d+: (.*)", line)
            if m and int(m.group(1)) in new_lines:
                problems.append(f"{rel}:{m.group(1)}: {m.group(2)}")
    return out, problems


def ruff_stdin(root: Path, rel: str, text: str, *args: str) -> Any:
    """ruff on `text` as if it were `rel` in `root` (its config applies); never writes files."""
    from ..runtime.checks._util import tool
    from ..runtime.proc import run as run_proc

    return run_proc([tool("ruff"), *args, "--no-cache", "--stdin-filename", rel, "-"], cwd=root,
                    stdin=text, timeout=60)


def _keeps_old_lines(old: str, candidate: str, fixed: str) -> bool:
    """True when the fix changed no line the candidate kept from the old file."""
    a, b, c = old.splitlines(), candidate.splitlines(), fixed.splitlines()
    kept = {j for tag, _i1, _i2, j1, j2 in
            difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
            if tag == "equal" for j in range(j1, j2)}
    touched = {i for tag, i1, i2, _j1, _j2 in
               difflib.SequenceMatcher(a=b, b=c, autojunk=False).get_opcodes()
               if tag in ("replace", "delete") for i in range(i1, i2)}
    return not kept & touched


def _changed_lines(old: str, new: str) -> set[int]:
    sm = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return {j + 1 for tag, _i1, _i2, j1, j2 in sm.get_opcodes() if tag != "equal"
            for j in range(j1, j2)}


def import_stdlib(text: str) -> str:
    """`text` with `import m` added for each standard-library module it uses as `m.attr`
    but never binds (a 0.5B model writes `re.sub(...)` and forgets `import re`; the lint
    error then costs a whole attempt). Nothing else changes."""
    import ast
    import builtins
    import sys

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
            if not isinstance(node, ast.ClassDef):
                bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
    used = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and isinstance(n.value.ctx, ast.Load)}
    missing = sorted(m for m in used - bound if m in sys.stdlib_module_names)
    if not missing:
        return text
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    first = tree.body[0] if tree.body else None
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
        and isinstance(first.value.value, str)
    after = (imports[-1].end_lineno if imports else
             (first.end_lineno if docstring and first is not None else 0)) or 0
    lines = text.splitlines(keepends=True)
    new = [f"import {m}\n" for m in missing]
    if imports and isinstance(imports[-1], ast.ImportFrom) and imports[-1].module == "__future__":
        new.insert(0, "\n")  # isort: `from __future__` is a block of its own
    lines[after:after] = new
    return "".join(lines)


# Modules whose star import a small model writes out of habit, and which are safe to import
# in shipyard's own process to read their names (no side effect at import, unlike
# `antigravity` or `this`): only these are expanded.
_STAR_SAFE = frozenset({
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "hashlib", "heapq", "itertools", "math", "operator", "random",
    "re", "statistics", "string", "typing"})


def expand_star_imports(text: str, old: str = "") -> str:
    """`text` with each `from m import *` it adds (not one `old` already had) of a common
    standard-library module replaced by `from m import a, b` of the names the file uses, or
    removed when it uses none. Qwen2.5-Coder starts a completion with `from typing import *`
    and `from collections import *` out of habit (HumanEval 60-65: the first attempt of five
    of six problems), and ruff's F403 then cost the whole attempt."""
    import ast
    import importlib

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    had = {line.strip() for line in old.splitlines()}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    bound = {node.name for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    bound |= {(a.asname or a.name).split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.Import | ast.ImportFrom) for a in node.names}
    lines = text.splitlines(keepends=True)
    stars = [node for node in tree.body
             if isinstance(node, ast.ImportFrom) and node.level == 0
             and node.module in _STAR_SAFE and [a.name for a in node.names] == ["*"]
             and "".join(lines[node.lineno - 1:node.end_lineno]).strip() not in had]
    owner: dict[str, ast.ImportFrom] = {}  # as Python binds them: the last star import wins
    for node in stars:
        module = importlib.import_module(node.module or "")
        exported = set(getattr(module, "__all__", None)
                       or (n for n in dir(module) if not n.startswith("_")))
        owner.update({name: node for name in (used & exported) - bound})
    for node in reversed(stars):
        names = sorted(name for name, by in owner.items() if by is node)
        lines[node.lineno - 1:node.end_lineno] = (
            [f"from {node.module} import {', '.join(names)}\n"] if names else [])
    return "".join(lines)
