"""G5's skeleton: the part of a new function code can write before the model does.

A request that names a new function and its file — "Add a slugify(text) helper to
textkit/strings.py … Export it from textkit/__init__.py" — gets a stub written by
code: the signature the request gives, the request's own words as the docstring, a
body that raises NotImplementedError, and the import and `__all__` entry in the
`__init__.py` it asks to export from. The Implementer then fills in one body, the task
a 0.5B model does best (it is how HumanEval poses problems), instead of deciding where
code goes and re-sending whole files, which is where it failed (it copied the files it
was shown unchanged). A stub is never the change: `stubbed` names the functions still
raising NotImplementedError, and G5 sends such a candidate back.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from ..agents.examples import extract_examples, module_of
from ..agents.raising import raised
from ..runtime.repomap import is_test_path

__all__ = ["Skeleton", "build", "focus", "opening", "posed", "restated", "stubbed"]

_CALL = re.compile(r"(?<![\w.])`?([A-Za-z_]\w*)\(([^()]*)\)")
_PY = re.compile(r"[\w./-]+\.py\b")
_EXPORT = re.compile(r"\b(export|expose|re-export)", re.IGNORECASE)
_STUB_BODY = "raise NotImplementedError"


@dataclass(frozen=True)
class Skeleton:
    files: dict[str, str]          # path -> whole text with the stubs (and exports) in place
    stubs: list[tuple[str, str]]   # (function, path) whose body the Implementer writes


def build(feature: str, *, names: set[str], planned: list[str],
          read: Callable[[str], str | None], defined: Callable[[str], bool],
          refusal: Callable[[str], str | None]) -> Skeleton:
    """Stubs for each of `names` the request gives a signature for and the repository does
    not define yet, in the first non-test module the request (else the plan) names.
    `refusal` is the workspace's rule for writes: a path from the request text that a
    reply could not write (outside the worktree, CI config, ignored) gets no stub either."""
    home = next((p for p in [*_PY.findall(feature), *planned] if p.endswith(".py")
                 and not is_test_path(p) and not p.endswith("__init__.py")), None)
    if home is None or refusal(home):
        return Skeleton({}, [])
    signatures = _signatures(feature, names)
    new = [(name, params) for name, params in signatures.items() if not defined(name)]
    if not new:
        return Skeleton({}, [])
    text = read(home) or ""
    for name, params in new:
        text = _append(text, _stub(name, params, _doc(feature, name),
                                   _summary(feature, name)))
    files = {home: text}
    if _EXPORT.search(feature):
        for init in dict.fromkeys(p for p in _PY.findall(feature) if p.endswith("__init__.py")):
            old = read(init)
            if old is not None and not refusal(init):
                files[init] = _export(old, module_of(home), [n for n, _ in new])
    return Skeleton(files, [(name, home) for name, _ in new])


def stubbed(text: str) -> set[str]:
    """Top-level functions whose body (after the docstring) only raises NotImplementedError,
    or is `pass` / `...`: declared, not written."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    out = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if all(_placeholder(stmt) for stmt in body):
                out.add(node.name)
    return out


_MARKER = re.compile(r"#.*\b(?:placeholder|not (?:yet )?implemented|(?:logic|code) here\b|"
                     r"implement (?:the |this |your )?(?:\w+ ){0,2}(?:logic|function|code))",
                     re.IGNORECASE)


def placeholders(text: str) -> set[str]:
    """Top-level functions whose body says in a comment that it is a placeholder
    (`return s  # Placeholder for actual decoding logic`, merged once on HumanEval 38 when
    no case called the function)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    lines = text.splitlines()
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(_MARKER.search(ln) for ln in lines[node.lineno:node.end_lineno])}


def focus(text: str, names: set[str]) -> str:
    """The file's imports, the stubs of `names`, and the module-level helpers and constants
    those mention, nothing else: the whole prompt of a first attempt, as HumanEval poses a
    problem (a 0.5B model completes a lone function far better than it edits a file it is
    shown whole). A helper the function's docstring or body names is part of its meaning
    (`decode_cyclic` "takes a string encoded with encode_cyclic"): shown, never edited."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ""
    lines = text.splitlines()

    def source(node: ast.stmt) -> str:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        return "\n".join(lines[first - 1:node.end_lineno])

    targets = [node for node in tree.body
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names]
    if not targets:
        return ""
    mentioned = set(re.findall(r"[A-Za-z_]\w*", "\n".join(source(t) for t in targets)))
    imports = [source(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    shown = [source(n) for n in tree.body
             if n in targets or _defined_names(n) & (mentioned - names)]
    return "\n\n\n".join(["\n".join(imports), *shown] if imports else shown)


def posed(code: str) -> str:
    """`code` (a focus) with each stub's `raise NotImplementedError` line taken out: the
    function ends at its docstring, as HumanEval poses a problem for completion."""
    return "\n".join(line for line in code.splitlines() if line.strip() != _STUB_BODY)


_CHANGE = re.compile(r"^(?:change|make|update|modify|fix|extend|rewrite)\s+`?(\w+)\([^()]*\)`?"
                     r"(?:\s+in\s+[\w./`-]+)?\s*(?:so\s+that\s+it|so\s+that|so|to)?\s+",
                     re.IGNORECASE)


def restated(code: str, names: set[str], feature: str) -> str:
    """`code` (a focus) with each of `names` posed again as a stub: its signature, its
    docstring followed by what the request asks of it (examples as doctests), and no
    body. Shown a function and told to change it, the 0.5B model gives it back unchanged
    (count_words, 2026-12-07: 9 of 10 attempts); posed so, it writes the body the
    docstring describes, as it does for a new function. "" when none is found."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    lines = code.splitlines()
    # a body on the def line (`def f(x): return x`) leaves no line to restate from
    targets = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
               and n.name in names and n.body[0].lineno > n.lineno]
    for node in sorted(targets, key=lambda n: n.lineno, reverse=True):
        asked = _sentence(feature, node.name)
        if (m := _CHANGE.match(asked)) and m.group(1) == node.name:
            asked = _capitalised(asked[m.end():])  # "Change f(x) in a.py so that it …"
        asked = asked if asked.endswith((".", "!", "?")) else asked + "."
        # the old docstring's first paragraph: its doctests may show what is to change
        summary = (ast.get_docstring(node) or "").split("\n\n", 1)[0]
        doc = " ".join(filter(None, [" ".join(summary.split()), asked]))
        stub = _stub(node.name, "", doc).split("\n", 1)[1].rstrip("\n").splitlines()
        lines[node.body[0].lineno - 1:node.end_lineno] = stub
    return "\n".join(lines) if targets else ""


def opening(code: str, names: set[str]) -> str:
    """The start of the reply to a posed `code`: its ```python fence and its text down to
    the first of `names`' docstring (or its `def` line), which the model would otherwise
    copy back token by token (half of an answer, at ~30 ms a token on 2 cores). Ends at
    a line break, where the tokenizer would split anyway. "" when no function is found."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    target = next((node for node in tree.body if isinstance(node, ast.FunctionDef
                   | ast.AsyncFunctionDef) and node.name in names), None)
    if target is None:
        return ""
    first = target.body[0]
    doc = ast.get_docstring(target, clean=False) is not None
    end = first.end_lineno if doc else first.lineno - 1
    lines = code.splitlines()
    if not end or end > len(lines) or (doc and not lines[end - 1].rstrip().endswith(
            ('"""', "'''"))):
        return ""  # the docstring shares its line with code: no clean place to stop
    return "```python\n" + "\n".join(lines[:end]) + "\n"


def _defined_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines: a function, a class, or a constant."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {t.id for t in targets if isinstance(t, ast.Name)}
    return set()


def _placeholder(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _signatures(feature: str, names: set[str]) -> dict[str, str]:
    """name -> parameter list, from the first mention that is a valid signature
    (`slugify(text)`, `sub(a, b)`; not `slugify("A b")`)."""
    out: dict[str, str] = {}
    for m in _CALL.finditer(feature):
        name, params = m.group(1), m.group(2).strip()
        if name in names and name not in out and _valid(name, params):
            out[name] = params
    return out


def _valid(name: str, params: str) -> bool:
    try:
        ast.parse(f"def {name}({params}):\n    pass\n")
    except SyntaxError:
        return False
    return True


def _sentence(feature: str, name: str) -> str:
    """The request's sentence that calls `name`, else the whole request, on one line."""
    text = re.sub(r"\s*\n\s*", " ", feature.strip())  # spaces inside a literal stay
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    return next((x for x in sentences if f"{name}(" in x), text)


def _capitalised(text: str) -> str:
    """`text` with a capital first letter, unless it opens with code: `multiply(2, 3)
    returns 6` keeps its name, and `tuple(value) if …` is not `Tuple(value) …`."""
    return text if re.match(r"[A-Za-z_]\w*\(", text) else text[:1].upper() + text[1:]


def _doc(feature: str, name: str) -> str:
    """The request's sentence about `name`, from after its colon when it has one."""
    sentence = _sentence(feature, name)
    head, colon, rest = sentence.partition(":")
    said = _capitalised(rest.strip() if colon and f"{name}(" in head and rest.strip()
                        else sentence)
    return said if said.endswith((".", "!", "?")) else said + "."


def _summary(feature: str, name: str) -> str | None:
    """A one-line summary for the stub's docstring: what the request says `name` does in
    the clause after "that"/"which" ("… natural_list_or(items) to lists.py that works
    like natural_list but joins the last two items with 'or': …"). Without it the
    docstring opened with the request's `natural_list_or([...]) returns …`, and a
    repository linting with pydocstyle (python-humanize: D205, D402, D415) blocked a correct
    change three rounds running on a docstring shipyard wrote. None when there is no such
    clause or it would not fit one line."""
    head = _sentence(feature, name).partition(":")[0]
    m = re.search(rf"\b{re.escape(name)}\([^()]*\)[^:]*?(?<!\bso )\b(?:that|which)\s+(.+)", head)
    if not m or f"{name}(" in m.group(1):
        return None
    clause = m.group(1).strip().rstrip(".,;")
    summary = _capitalised(clause) + "."
    return summary if len(summary) <= 80 and '"""' not in summary else None


def _stub(name: str, params: str, doc: str, summary: str | None = None) -> str:
    """The stub; the request's examples of `name` also go in as doctests, as HumanEval
    writes them (a string literal is never wrapped or respaced). A description that is a
    series of steps ("lowercase the text, replace …, and strip …") is written as numbered
    steps: probed on the demo's slugify, the 0.5B model wrote a correct body in 2 of 6
    samples from numbered steps and in 0 of 6 from the same words as one sentence."""
    doc = doc.replace("\\", "\\\\").replace('"""', "'''")
    steps, tail = _steps(doc)
    lines = ([summary.replace("\\", "\\\\"), ""] if summary else []) + (["Steps:"] if steps else [])
    for i, step in enumerate(steps, 1):
        lines += _wrap(f"{i}. {step}", width=84, indent="   ")
    lines += _wrap(tail if steps else doc, width=84)
    examples = extract_examples(doc, {name}, source="request")
    if examples:
        lines.append("")
        for ex in examples:
            error = raised(ex.expected)
            lines += [f">>> {ex.call}", *(["Traceback (most recent call last):", "    ...",
                                           error] if error else [ex.expected])]
    body = '"""' + "\n".join(f"    {ln}" if ln else "" for ln in lines).lstrip() \
        + ('\n    """' if len(lines) > 1 else '"""')
    return f"def {name}({params}):\n    {body}\n    {_STUB_BODY}\n"


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|\([^()]*\)|\[[^\[\]]*\]")


def _wrap(text: str, *, width: int, indent: str = "") -> list[str]:
    """textwrap that never breaks inside a string literal, parentheses or brackets."""
    if not text:
        return []
    guarded = _QUOTED.sub(lambda m: m.group(0).replace(" ", "\0"), text)
    return [ln.replace("\0", " ") for ln in
            textwrap.wrap(guarded, width=width, subsequent_indent=indent)]


def _steps(doc: str) -> tuple[list[str], str]:
    """(the steps, the rest) when `doc` is one sentence of three or more imperative
    clauses separated by commas ("a, b, and c") before an optional "so f(x) returns y";
    else ([], doc)."""
    guarded = _QUOTED.sub(lambda m: m.group(0).replace(",", "\1").replace(";", "\2"), doc)
    m = re.search(r",?\s+(so|e\.g\.|for example)\b[,:]?\s*", guarded)
    body, lead, tail = (guarded[:m.start()], m.group(1), guarded[m.end():]) if m else (
        guarded, "", "")
    body = body.rstrip(".")
    if re.search(r"[.!?]\s", body):
        return [], doc
    parts = [x.strip() for x in re.split(r",\s+(?:and\s+|then\s+)?|;\s+", body)]
    verbish = re.compile(r"^[A-Za-z][a-z]+\b")
    if len(parts) < 3 or not all(verbish.match(x) and len(x.split()) <= 24 for x in parts):
        return [], doc

    def unguard(x: str) -> str:
        return x.replace("\1", ",").replace("\2", ";")

    # (seen on six: `Tuple(value) if it is a list`, another name and a wrong hint)
    steps = [unguard(_capitalised(x)).rstrip(".") + "." for x in parts]
    rest = unguard(tail).strip()
    if rest:
        rest = rest if rest.endswith((".", "!", "?")) else rest + "."
        if lead == "so":
            rest = "So " + rest[0].lower() + rest[1:]
    return steps, rest


def _append(text: str, block: str) -> str:
    if not text.strip():
        return block
    return text.rstrip("\n") + "\n\n\n" + block


def _export(text: str, module: str, names: list[str]) -> str:
    """`text` (an __init__.py) importing `names` from `module` and listing them in a
    literal `__all__`; the lines it does not touch stay as they were."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (first line, last line, new text), 1-based
    package = module.rpartition(".")[0]
    same = [n for n in tree.body if isinstance(n, ast.ImportFrom) and (
        (n.level == 0 and n.module == module)
        or (n.level == 1 and package and n.module == module.rpartition(".")[2]))]
    if same:
        node = same[-1]
        have = [a.name if a.asname is None else f"{a.name} as {a.asname}" for a in node.names]
        source = "." * node.level + (node.module or "")
        edits.append((node.lineno, node.end_lineno or node.lineno,
                      _import_line(source, sorted({*have, *names}))))
    else:
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        after = (imports[-1].end_lineno or imports[-1].lineno) if imports else _doc_end(tree)
        edits.append((after + 1, after, _import_line(module, sorted(names))))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"
                and isinstance(node.value, ast.List | ast.Tuple)
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                        for e in node.value.elts)):
            old = [e.value for e in node.value.elts]  # type: ignore[attr-defined]
            new = old + [n for n in names if n not in old]
            if old == sorted(old):
                new = sorted(new)
            multiline = node.lineno != node.end_lineno
            edits.append((node.lineno, node.end_lineno or node.lineno,
                          _all_literal(new, multiline, isinstance(node.value, ast.Tuple))))
    for first, last, new_text in sorted(edits, reverse=True):
        lines[first - 1:last] = [new_text]
    return "".join(lines)


def _doc_end(tree: ast.Module) -> int:
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first.end_lineno or first.lineno
    return 0


def _import_line(source: str, names: list[str]) -> str:
    line = f"from {source} import {', '.join(names)}\n"
    if len(line) <= 89:
        return line
    return f"from {source} import (\n" + "".join(f"    {n},\n" for n in names) + ")\n"


def _all_literal(names: list[str], multiline: bool, as_tuple: bool) -> str:
    open_, close = ("(", ")") if as_tuple else ("[", "]")
    if multiline:
        return f"__all__ = {open_}\n" + "".join(f'    "{n}",\n' for n in names) + f"{close}\n"
    return f"__all__ = {open_}{', '.join(repr(n).replace(chr(39), chr(34)) for n in names)}" \
           f"{',' if as_tuple and len(names) == 1 else ''}{close}\n"
