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
import builtins
import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from ..runtime.plain import PLAIN_SOURCE
from . import raising

__all__ = ["FIXED_PART", "Example", "canonical", "extract_examples", "module_of", "renamed",
           "render_tests"]

# The first line of what every acceptance test file ends with, the same in every run: the
# comparison helpers and the test function (graphs/nodes_base.py leaves it out of reviews).
FIXED_PART = "# What the code returns is read as built-in data before it is compared: an"

# `call(...)  SEP  expected` on one line, where SEP is one of the ways docs write "gives"
# (`f(15)   # returns "db1111db"` too).
_SEPS = (r"(?:\#\s*(?:returns?\b|gives?\b|==>|=>|->|➞|→)|==>|=>|->|➞|→|==|"
         r"\bshould (?:return|be)\b|\breturns?\b|\bgives?\b|=)")
# Prose examples of a one-argument function: "For num = "AB" the output should be 1."
_FOR = re.compile(r"\bFor\s+([A-Za-z_]\w*)\s*=\s*")
_OUTPUT = re.compile(r"\b(?:the\s+)?output\s+(?:should\s+be|is|will\s+be)\s*:?\s*", re.IGNORECASE)
_BOUND = re.compile(r"^\s*>>>\s*([A-Za-z_]\w*)\s*=(?!=)", re.MULTILINE)
# JSON's and English's booleans, as docs write them: `f(1, 4) => true`.
_WORDS = {"true": "True", "false": "False", "null": "None"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    call: str          # a Python expression, e.g. slugify("A b")
    expected: str      # a Python expression, e.g. "a-b"
    source: str        # "docstring", "request" or "proposed"

    @property
    def function(self) -> str | None:
        return _called(_expr(self.call))


def extract_examples(text: str, names: Iterable[str], *, source: str,
                     params: dict[str, list[str]] | None = None) -> list[Example]:
    """Examples of calls to `names` in `text`: doctests and `f(x) == y`-style lines, and,
    for a function of one argument whose parameter names `params` gives, the prose forms
    "For x = 3 the output should be 9" and "Input: 3" / "Output: 9"."""
    wanted = set(names)
    # names the doctests bind (`>>> it = iter([])`): a call passing one is no bare word to quote
    bound = set(_BOUND.findall(text))
    out: list[Example] = []
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith(">>>"):
            call = line[3:].strip()
            expected = lines[i + 1].strip() if i + 1 < len(lines) else ""
            expected = raising.from_traceback(lines[i + 1:]) or expected
            if expected and not expected.startswith(">>>"):
                _keep(out, call, expected, wanted, source, bound)
            continue
        for call, expected in _inline(_continued(line, lines[i + 1:i + 16]), wanted,
                                      lines[i + 1:i + 2]):
            _keep(out, call, expected, wanted, source, bound)
    for name, args in (params or {}).items():
        if name in wanted and len(args) == 1:
            for call, expected in [*_for_output(text, name, args[0]),
                                   *_input_output(lines, name, args[0])]:
                _keep(out, call, expected, wanted, source)
    return list(dict.fromkeys(out))


def renamed(doc: str, name: str, defined: AbstractSet[str]) -> str:
    """`doc` with its examples calling `name` where they call it by a name nothing in the
    repository defines, as a docstring keeps after a rename (HumanEval 81 documents
    `numerical_letter_grade` with `grade_equation([4.0, 3]) ==> ['A+', 'B']`). Only when
    the doc has no example of `name` itself and one other name alone has examples; `doc`
    as it is otherwise."""
    if extract_examples(doc, {name}, source="docstring"):
        return doc
    called = set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", doc))
    others = [other for other in sorted(called - set(defined) - _BUILTINS - {name})
              if extract_examples(doc, {other}, source="docstring")]
    if len(others) != 1:
        return doc
    return re.sub(rf"(?<![\w.]){re.escape(others[0])}(?=\s*\()", name, doc)


def _continued(line: str, following: list[str]) -> str:
    """`line`, joined with the lines after it while a bracket it opens is still open: an
    example whose argument is a matrix spans lines (HumanEval 87's `get_row([` …)."""
    depths = _depths(line)
    if not depths or depths[-1] == 0 or min(depths) < 0:
        return line
    for nxt in following:
        line += " " + nxt.strip()
        if _depths(line)[-1] <= 0:
            return line
    return line


def _depths(text: str) -> list[int]:
    """The bracket depth after each character of `text`, brackets inside quotes not
    counted."""
    out, depth, quote = [], 0, ""
    for j, ch in enumerate(text):
        if quote:
            if ch == quote and text[j - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        out.append(depth)
    return out


def _for_output(text: str, name: str, param: str) -> Iterable[tuple[str, str]]:
    """"For lst = [1, 2] the output should be 3" (the parameter's own name), on one
    paragraph: `f([1, 2])` -> `3`. What stands between the two is the example's working."""
    flat = " ".join(text.split())
    for m in _FOR.finditer(flat):
        if m.group(1) != param:
            continue
        value = _leading_literal(flat[m.end():m.end() + 400])
        rest = flat[m.end() + len(value):m.end() + len(value) + 300]
        nxt = _FOR.search(rest)
        said = _OUTPUT.search(rest[:nxt.start()] if nxt else rest)
        if value and said:
            expected = _leading_literal(rest[said.end():])
            if expected:
                yield f"{name}({value})", expected


def _input_output(lines: list[str], name: str, param: str) -> Iterable[tuple[str, str]]:
    """"Input: [4,2,3]" with "Output: [2, 1]" on one of the next two lines (or
    "Input: arr = [4,2,3]", the parameter's own name): `f([4,2,3])` -> `[2, 1]`."""
    for i, raw in enumerate(lines):
        m = re.match(r"\s*Input\s*:\s*(.+)", raw, re.IGNORECASE)
        if not m:
            continue
        given = re.sub(rf"^{re.escape(param)}\s*=\s*", "", m.group(1).strip())
        value = _leading_literal(given)
        if not value or value != given.rstrip(".,; "):
            continue
        for nxt in lines[i + 1:i + 3]:
            if out := re.match(r"\s*Output\s*:\s*(.+)", nxt, re.IGNORECASE):
                if expected := _leading_literal(out.group(1)):
                    yield f"{name}({value})", expected
                break


def _leading_literal(text: str) -> str:
    """The longest prefix of `text` that is a Python literal ('' when none is)."""
    return next((c for c, node in _prefixes(text.strip()[:400])
                 if c in _WORDS or _literal_ish(node)), "")


# What a line may end with between a call and the separator the next line holds: prose
# wraps "closest_integer("14.5") should / return 15" (HumanEval 99) at any word.
_DANGLING = re.compile(r"\s*(?:(?:should|will|would|must)\s*)?")


def _inline(line: str, wanted: set[str], following: Sequence[str] = ()
            ) -> Iterable[tuple[str, str]]:
    """`call SEP expected` examples in `line`; a call that ends the line, or that only
    dangling words follow, takes its separator and result from the next line."""
    for name in wanted:
        for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(", line):
            call = _balanced_call(line, m.start(), m.end() - 1)
            if call is None:
                continue
            rest = line[m.start() + len(call):]
            if following and _DANGLING.fullmatch(rest):
                rest = f"{rest} {following[0].strip()}"
            sep = re.match(rf"\s*{_SEPS}\s*", rest)
            if sep:
                yield call, _leading_expr(_worked_result(rest[sep.end():]))
            elif said := raising.after_call(rest):
                yield call, said


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
    depths = _depths(line[open_at:])
    end = next((j for j, d in enumerate(depths) if d == 0), None)
    return None if end is None else line[start:open_at + end + 1]


def _leading_expr(text: str) -> str:
    """The longest prefix of `text` that is a literal, else the longest that is a Python
    expression (drops trailing prose: "'a-b'. Export it" parses as an attribute access)."""
    found = ""
    for candidate, node in _prefixes(text.strip().rstrip(".,;")):
        if _literal_ish(node):
            return candidate
        found = found or candidate
    return found


def _prefixes(text: str) -> Iterator[tuple[str, ast.expr]]:
    """The prefixes of `text` that parse as Python expressions, longest first (a
    trailing `.`, `,` or `;` dropped)."""
    for end in range(len(text), 0, -1):
        candidate = text[:end].strip().rstrip(".,;")
        node = _expr(candidate) if candidate else None
        if node is not None:
            yield candidate, node


def _keep(out: list[Example], call: str, expected: str, wanted: set[str], source: str,
          bound: AbstractSet[str] = frozenset()) -> None:
    call, expected = _uncommented(call.strip()), _uncommented(expected.strip())
    expected = _WORDS.get(expected, expected)
    node, want = _expr(call), _expr(expected)
    if node is not None and _free_names(node) & bound:
        return  # more-itertools: `>>> it = []` then `>>> one(it)` is not one('it')
    if (quoted := _quoted(node)) is not node:  # _quoted returns `node` itself, or a copy
        node, call = quoted, ast.unparse(quoted)
    if node is None or not (raising.raised(expected) or (want is not None
                                                         and _literal_ish(want))):
        return
    if _called(node) not in wanted or _free_names(node) - wanted:
        return  # `f(x, 1)` where the prose defined x: it cannot run as written
    out.append(Example(call=call, expected=expected, source=source))


# Builtins a docstring wraps a call in to state its result (`round(find_zero([1, 2]), 2)`,
# `sorted(unique(xs))`): the example is still about the wrapped function.
_WRAPPERS = frozenset({"abs", "bool", "float", "int", "len", "list", "max", "min", "round",
                       "set", "sorted", "str", "sum", "tuple"})


def _quoted(node: ast.expr | None) -> ast.expr | None:
    """A call whose arguments are all bare words, as docs write strings (`is_happy(aa) =>
    False`, HumanEval 80), with those words quoted: run as written, every candidate raises
    NameError on it. Anything else is returned as it is."""
    if not (isinstance(node, ast.Call) and node.args and not node.keywords) or not all(
            isinstance(a, ast.Name) and a.id not in _BUILTINS for a in node.args):
        return node
    return ast.Call(func=node.func, keywords=[],
                    args=[ast.Constant(a.id) for a in node.args])  # type: ignore[attr-defined]


_BUILTINS = frozenset(dir(builtins))


def _free_names(node: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - _BUILTINS


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


def canonical(call: str) -> str:
    """`call` as Python prints it: quotes and spaces no longer tell two calls apart."""
    try:
        return ast.unparse(ast.parse(call.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError):
        return call.replace(" ", "")


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
    cases, raises = [], []
    for e in examples:
        if e.function in imports:
            (raises if raising.raised(e.expected) else cases).append(e)
    body = ["", "", "CASES = ["]
    for e in cases:
        body.append(f"    pytest.param(lambda: {_evaluated(e.call)}, {_evaluated(e.expected)}, "
                    f"id={_case_id(e)!r}),")
    body += ["]", "", "",
             FIXED_PART,
             "# object of its own class could answer == with True for anything.",
             PLAIN_SOURCE.rstrip("\n"), "", "",
             '@pytest.mark.parametrize(("call", "expected"), CASES)',
             "def test_acceptance(call, expected):",
             "    got = _as_data(call(), expected)",
             "    if isinstance(expected, float) or (isinstance(expected, list | tuple)",
             "                                       and any(isinstance(x, float) for x in expected)):",
             "        assert got == pytest.approx(expected)",
             "    else:",
             "        assert got == expected", ""]
    return "\n".join(head + body + _raising_tests(raises))


def _raising_tests(cases: list[Example]) -> list[str]:
    """The cases whose call must raise (agents/raising.py) as a test of their own; none when
    there are none, so that every other test file is the same as before. As the probe
    matches it: a builtin exception by the class itself (a class of the code's own may call
    itself `ValueError`), any other by its name or a base class's — the module's own
    `EmptyError` needs no import to be named."""
    if not cases:
        return []
    out = ["", "", "RAISES = ["]
    for e in cases:
        name = (raising.raised(e.expected) or "Exception").rpartition(".")[2]
        error = name if isinstance(getattr(builtins, name, None), type) else repr(name)
        out.append(f"    pytest.param(lambda: {_evaluated(e.call)}, {error}, "
                   f"id={_case_id(e)!r}),")
    # any exception, then its class: `match` keeps a repository's flake8-pytest-style
    # (PT011) and bugbear (B017) from flagging a broad `pytest.raises` in shipyard's file
    return out + ["]", "", "", '@pytest.mark.parametrize(("call", "error"), RAISES)',
                  "def test_acceptance_raises(call, error):",
                  '    with pytest.raises(BaseException, match=r"(?s).*") as raised:',
                  "        call()",
                  "    if isinstance(error, type):",
                  "        assert issubclass(type(raised.value), error)",
                  "    else:",
                  "        assert error in [c.__name__ for c in type(raised.value).__mro__]", ""]


def _evaluated(expr: str) -> str:
    """`expr` with each dict or set display that repeats a key written as Python evaluates
    it (`{"a": 1, 8: 2, "a": 1}` is `{'a': 1, 8: 2}`): the same value, without the lint
    finding (ruff F601) that would block a change in a file shipyard wrote from the
    request's own examples (HumanEval 95: every fix round failed on it)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return expr
    changed = False

    class Collapse(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            nonlocal changed
            keys = node.keys if isinstance(node, ast.Dict) else \
                node.elts if isinstance(node, ast.Set) else None
            dumps = [ast.dump(k) for k in keys or () if isinstance(k, ast.Constant)]
            if len(set(dumps)) < len(dumps):
                try:
                    value = ast.literal_eval(node)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return self.generic_visit(node)
                changed = True
                return ast.parse(repr(value), mode="eval").body
            return self.generic_visit(node)

    tree = Collapse().visit(tree)
    return ast.unparse(tree) if changed else expr


def _case_id(e: Example) -> str:
    return f"{e.source}:{e.call[:60]}"


def _oneline(text: str) -> str:
    return " ".join(text.split()).replace('"""', "'''")[:100]
