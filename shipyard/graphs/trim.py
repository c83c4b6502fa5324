"""What of the Implementer's reply is applied (DESIGN §1, issue 7): code, not tests.

Tests are G3's job. A 0.5B model adds them unasked — `test_*` functions, `Test*` classes,
self-checks that assert and print, calls to them at the bottom — and they are where it
runs out of tokens, what ruff flags, and code no test covers. Shown one function, it also
"fixes" its neighbours. Both are cut here, by code, before the edits are applied; the
rest of the reply is applied as it came.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import replace
from typing import Any

from .context import defs

__all__ = ["in_focus", "without_tests"]


def in_focus(blocks: list[Any], focus: tuple[str, set[str]], default: str | None,
             current: str) -> list[Any]:
    """The reply's blocks for the focused file without the existing functions and classes
    it was not shown (new helpers stay). Seen on `make demo`: asked for slugify, the model
    rewrote normalize_whitespace beside it, and a later round broke its tests."""
    home, names = focus
    others = {name for name in defs(current) if name not in names}
    return [replace(b, code=_drop_defs(b.code, others)) if (b.path or default) == home else b
            for b in blocks]


def _drop_defs(code: str, names: set[str]) -> str:
    """`code` without its top-level functions and classes named in `names`, and without
    top-level calls of them (a small model adds `test_f()` after "# Run the tests"), which
    would run at import."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return code
    lines = textwrap.dedent(code).splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and node.name in names:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id in names:
            start = node.lineno
        else:
            continue
        del lines[start - 1:node.end_lineno or node.lineno]
    return "".join(lines)


def without_tests(code: str, keep: frozenset[str] = frozenset()) -> str:
    """`code` without its tests: top-level `test_*` functions and `Test*` classes, and
    self-checks — a function that asserts and that nothing else in `code` uses (HumanEval
    42: `check_solution()` with three asserts, never called, merged into solution.py, where
    its uncovered lines dropped coverage below the base and the tests check blocked a
    correct change) — and their calls. Names in `keep` (the request's, the file's own)
    stay whatever they hold."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return code
    tests = {n.name for n in tree.body
             if (isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                 and n.name.startswith("test"))
             or (isinstance(n, ast.ClassDef) and n.name.startswith("Test"))}
    return _drop_defs(code, (tests | _self_checks(tree, tests)) - keep)


def _self_checks(tree: ast.Module, tests: set[str]) -> set[str]:
    """Top-level functions holding an `assert` that no other statement of `tree` names,
    apart from the tests and bare top-level calls (both dropped with them)."""
    asserting = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                 and any(isinstance(x, ast.Assert) for x in ast.walk(n))}
    used: set[str] = set()
    for node in tree.body:
        name = getattr(node, "name", None)
        if name in tests or _main_block(node) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue  # dropped with them, or never merged (agents/edits.py merge_python)
        used |= {x.id for x in ast.walk(node) if isinstance(x, ast.Name) and x.id != name}
    return asserting - used


def _main_block(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`"""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(
        node.test.left, ast.Name) and node.test.left.id == "__name__"
