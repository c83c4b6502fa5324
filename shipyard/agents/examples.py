"""Executable acceptance criteria: examples become tests without a model.

A feature request or a docstring that shows ``slugify("A b") == "a-b"`` or a
doctest (``>>> slugify("A b")`` then ``'a-b'``) states a fact about the code
to be written. G3 turns every such example into a pytest assertion by code, so
the tests that decide are not the ones a small model invents. The Test
Engineer's own cases (call + expected) join them, marked as proposed: a proposed
case can be wrong, and G5 may set it aside when independent implementations
agree against it (see `graphs/build.py`).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Example", "extract_examples", "module_of", "render_tests"]

# `call(...)  SEP  expected` on one line, where SEP is one of the ways docs write "gives".
_SEPS = r"(?:==>|=>|->|➞|→|==|\bshould (?:return|be)\b|\breturns?\b|\bgives?\b|=)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    call: str          # a Python expression, e.g. slugify("A b")
    expected: str      # a Python expression, e.g. "a-b"
    source: str        # "docstring", "request" or "proposed"

    @property
    def function(self) -> str | None:
        return _called(_expr(self.call))


def extract_examples(text: str, names: Iterable[str], *, source: str) -> list[Example]:
    """Examples of calls to `names` in `text`: doctests and `f(x) == y`-style lines."""
    wanted = set(names)
    out: list[Example] = []
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith(">>>"):
            call = line[3:].strip()
            expected = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if expected and not expected.startswith(">>>"):
                _keep(out, call, expected, wanted, source)
            continue
        for call, expected in _inline(line, wanted):
            _keep(out, call, expected, wanted, source)
    return list(dict.fromkeys(out))


def _inline(line: str, wanted: set[str]) -> Iterable[tuple[str, str]]:
    for name in wanted:
        for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(", line):
            call = _balanced_call(line, m.start(), m.end() - 1)
            if call is None:
                continue
            rest = line[m.start() + len(call):]
            sep = re.match(rf"\s*{_SEPS}\s*", rest)
            if sep:
                yield call, _leading_expr(_worked_result(rest[sep.end():]))


def _worked_result(text: str) -> str:
    """The result of a worked example: `19 - 5 - 6 = 8` states 8, not 19 (HumanEval 67's
    docstring writes `f("5 apples and 6 oranges", 19) ->19 - 5 - 6 = 8`). Only when what
    comes before `=` is arithmetic on numbers; anything else is left as it is."""
    left, eq, right = text.partition("=")
    if not eq or right.startswith("=") or left.endswith(("=", "<", ">", "!")):
        return text
    node = _expr(left.strip())
    return right if node is not None and _arithmetic(node) and \
        not isinstance(node, ast.Constant) else text


def _arithmetic(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _arithmetic(node.operand)
    if isinstance(node, ast.BinOp):
        return _arithmetic(node.left) and _arithmetic(node.right)
    return False


def _balanced_call(line: str, start: int, open_at: int) -> str | None:
    depth, quote = 0, ""
    for j in range(open_at, len(line)):
        ch = line[j]
        if quote:
            if ch == quote and line[j - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return line[start:j + 1]
    return None


def _leading_expr(text: str) -> str:
    """The longest prefix of `text` that is a literal, else the longest that is a Python
    expression (drops trailing prose: "'a-b'. Export it" parses as an attribute access)."""
    text = text.strip().rstrip(".,;")
    found = ""
    for end in range(len(text), 0, -1):
        candidate = text[:end].strip().rstrip(".,;")
        node = _expr(candidate) if candidate else None
        if node is not None:
            if _literal_ish(node):
                return candidate
            found = found or candidate
    return found


def _keep(out: list[Example], call: str, expected: str, wanted: set[str], source: str) -> None:
    call, expected = _uncommented(call.strip()), _uncommented(expected.strip())
    node, want = _expr(call), _expr(expected)
    if node is None or want is None or not _literal_ish(want):
        return
    if _called(node) not in wanted:
        return
    out.append(Example(call=call, expected=expected, source=source))


# Builtins a docstring wraps a call in to state its result (`round(find_zero([1, 2]), 2)`,
# `sorted(unique(xs))`): the example is still about the wrapped function.
_WRAPPERS = frozenset({"abs", "bool", "float", "int", "len", "list", "max", "min", "round",
                       "set", "sorted", "str", "sum", "tuple"})


def _called(node: ast.expr | None) -> str | None:
    """The function an example calls: `f(x)`, or `f` inside a builtin wrapper."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id in _WRAPPERS and node.args and isinstance(node.args[0], ast.Call) \
            and isinstance(node.args[0].func, ast.Name):
        return node.args[0].func.id
    return node.func.id


def _uncommented(text: str) -> str:
    """`text` without a trailing `# comment` (HumanEval writes `f(x) # f(x) = 1 + 2x`),
    which would swallow the rest of the assertion it is written into."""
    if "#" not in text:
        return text
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    cut = next((tok.start[1] for tok in tokens if tok.type == tokenize.COMMENT), None)
    return text if cut is None else text[:cut].rstrip()


def _expr(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None


def _literal_ish(node: ast.expr) -> bool:
    """Expected values must be data (literals, tuples, lists, negatives, None, True…), not
    prose that happens to parse (`True if ...`, a bare name)."""
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def module_of(path: str) -> str:
    """The import name of a repository file: src/pkg/mod.py -> pkg.mod."""
    parts = path.removesuffix(".py").split("/")
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def render_tests(title: str, imports: dict[str, str], examples: list[Example]) -> str:
    """A pytest file asserting each example; `imports` maps function name -> module.
    Floats compare with pytest.approx (docs round them)."""
    names = sorted({e.function for e in examples if e.function in imports})
    by_module: dict[str, list[str]] = {}
    for name in names:
        by_module.setdefault(imports[name], []).append(name)
    head = [f'"""Acceptance tests: {_oneline(title)}.', "",
            "Written by shipyard from the examples in the request and docstrings",
            '(source "docstring"/"request") and the Test Engineer\'s cases ("proposed")."""',
            "", "import pytest", ""]
    head += [f"from {mod} import {', '.join(fns)}" for mod, fns in sorted(by_module.items())]
    cases = [e for e in examples if e.function in imports]
    body = ["", "", "CASES = ["]
    for e in cases:
        body.append(f"    pytest.param(lambda: {e.call}, {e.expected}, "
                    f"id={_case_id(e)!r}),")
    body += ["]", "", "",
             '@pytest.mark.parametrize(("call", "expected"), CASES)',
             "def test_acceptance(call, expected):",
             "    got = call()",
             "    if isinstance(expected, float) or (isinstance(expected, list | tuple)",
             "                                       and any(isinstance(x, float) for x in expected)):",
             "        assert got == pytest.approx(expected)",
             "    else:",
             "        assert got == expected", ""]
    return "\n".join(head + body)


def _case_id(e: Example) -> str:
    return f"{e.source}:{e.call[:60]}"


def _oneline(text: str) -> str:
    return " ".join(text.split()).replace('"""', "'''")[:100]
