"""The Implementer's edits: plain-text code blocks, parsed and applied by code.

Code never travels inside JSON (DESIGN §3, §5): the Implementer replies in
Markdown, one fenced block per file, each preceded by a ``FILE: path`` line::

    FILE: textkit/strings.py
    ```python
    def slugify(text: str) -> str:
        ...
    ```

For an existing Python file the block holds only what changes: whole top-level
functions or classes (a same-named one is replaced, a new one appended), a
method (replaced inside its class), imports (added when missing) and
assignments (``__all__`` lists are merged). Everything the block does not name
stays byte-identical. A block may instead hold SEARCH/REPLACE hunks (any file
type). A new file is written whole. Nothing here writes files: `apply_edits`
returns the new contents, or the problems to send back to the model.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["EditError", "FileBlock", "apply_edits", "parse_blocks"]

_FENCE_OPEN = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*$")
_FENCE_CLOSE = re.compile(r"^[ \t]*```[ \t]*$")
# a path-like token: dirs/name.ext, optionally in backticks or after FILE:/File:/###
_PATH = re.compile(r"([\w.\-]+(?:/[\w.\-]+)*\.(?:py|pyi|md|txt|toml|cfg|ini|json|yaml|yml|rst))\b")
_FILE_LINE = re.compile(r"^\s*(?:#+\s*)?\**FILE\**\s*:\s*(\S+)\s*$", re.IGNORECASE)
# Inside a block, our own `FILE: path` header (as the prompt asks for it) starts the next file:
# a small model often forgets the closing fence before it. `FILE: x.py` also parses as an
# annotation, so left in it would only fail later as an undefined name.
_NEXT_FILE = re.compile(r"^FILE:[ \t]*\S+[ \t]*$")
_SEARCH = re.compile(r"^<{5,9} ?SEARCH[^\n]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9} ?REPLACE[^\n]*$",
                     re.DOTALL | re.MULTILINE)


class EditError(ValueError):
    """An edit that cannot be applied; its message is shown to the Implementer."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FileBlock:
    path: str | None      # None: the reply named no file; code infers it
    code: str
    lang: str = ""


@dataclass(kw_only=True)
class Applied:
    files: dict[str, str] = field(default_factory=dict)   # path -> complete new content
    problems: list[str] = field(default_factory=list)     # shown to the Implementer
    notes: list[str] = field(default_factory=list)        # recorded, not fatal


def parse_blocks(reply: str) -> list[FileBlock]:
    """The fenced blocks of a reply with the file each belongs to. An unterminated fence
    means the reply was cut off: raise, never guess the rest."""
    blocks: list[FileBlock] = []
    lines = reply.splitlines()
    pending_path: str | None = None
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            explicit = _FILE_LINE.match(lines[i])
            found = _PATH.search(lines[i])
            if explicit:  # taken as written: an unsafe path must reach the path checks whole
                pending_path = explicit.group(1).strip("`'\"")
            elif found and len(lines[i]) < 200:
                pending_path = found.group(1).lstrip("./") if found.group(1).startswith("./") \
                    else found.group(1)
            i += 1
            continue
        if i + 1 < len(lines) and _FENCE_OPEN.match(lines[i + 1]) \
                and not _FENCE_CLOSE.match(lines[i + 1]):
            i += 1  # "```" then "```python": a doubled opener, the second one counts
            continue
        lang = m.group(1).lower()
        end = next((j for j in range(i + 1, len(lines))
                    if _FENCE_CLOSE.match(lines[j]) or _NEXT_FILE.match(lines[j])), None)
        if end is None:
            if blocks:  # trailing chatter after complete blocks (often an unasked test file)
                break
            raise EditError("the reply ends inside a code block (it was cut off); reply again "
                            "with only the changed functions, which is shorter")
        resume = end + 1 if _FENCE_CLOSE.match(lines[end]) else end  # a FILE line is read next
        code = "\n".join(lines[i + 1:end]) + "\n"
        path = pending_path
        first = code.split("\n", 1)[0]
        if (inline := re.match(r"^\s*(?:#\s*)?(?:file:?\s*)?(\S+\.py)\s*$", first, re.IGNORECASE)):
            path, code = inline.group(1), code.split("\n", 1)[1] if "\n" in code else ""
        if code.strip() and lang not in ("bash", "sh", "shell", "console", "text", "output"):
            blocks.append(FileBlock(path=path, code=code, lang=lang))
        pending_path = None
        i = resume
    return blocks


def apply_edits(blocks: list[FileBlock], read: Callable[[str], str | None], *,
                default_path: str | None = None,
                protected: Mapping[str, str] | None = None) -> Applied:
    """Apply blocks to the files `read` returns (None: the file does not exist).

    `default_path` receives a block that names no file and defines nothing that exists
    elsewhere; `protected` maps paths the Implementer may not change to the reason."""
    out = Applied()
    current: dict[str, str | None] = {}
    for block in blocks:
        path = block.path or _infer_path(block, read, current, default_path)
        if path is None:
            out.problems.append("a code block names no file: put `FILE: path` on the line "
                                "before each block")
            continue
        if protected and path in protected:
            out.problems.append(f"{path}: {protected[path]}")
            continue
        if path not in current:
            current[path] = read(path)
        old = current[path]
        try:
            new = _apply_one(path, old, block)
        except EditError as exc:
            out.problems.append(f"{path}: {exc}")
            continue
        current[path] = new
        out.files[path] = new
    for path, text in out.files.items():
        if path.endswith(".py"):
            try:
                ast.parse(text)
            except SyntaxError as exc:
                out.problems.append(f"{path}: after the edit the file does not parse: "
                                    f"{exc.msg} at line {exc.lineno}")
    if not out.files and not out.problems:
        out.problems.append("the reply had no code block: give each changed function in a "
                            "```python block after a `FILE: path` line")
    return out


def _infer_path(block: FileBlock, read: Callable[[str], str | None],
                current: dict[str, str | None], default: str | None) -> str | None:
    """A block without a file: the file that defines one of its functions, else the default."""
    names = _defined_names(block.code)
    for path, text in current.items():
        if text and path.endswith(".py") and names & _defined_names(text):
            return path
    if default and (text := read(default)) is not None and names & _defined_names(text):
        return default
    return default


def _defined_names(code: str) -> set[str]:
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return set()
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def _apply_one(path: str, old: str | None, block: FileBlock) -> str:
    if _SEARCH.search(block.code):
        if old is None:
            raise EditError("SEARCH/REPLACE on a file that does not exist; give the whole file")
        return _search_replace(old, block.code)
    if old is None:
        return _whole(path, block.code)
    if not path.endswith((".py", ".pyi")):
        raise EditError("an existing non-Python file changes only by SEARCH/REPLACE hunks "
                        "(<<<<<<< SEARCH / ======= / >>>>>>> REPLACE)")
    return merge_python(old, block.code)


def _whole(path: str, code: str) -> str:
    text = code if code.endswith("\n") else code + "\n"
    if path.endswith(".py"):
        try:
            ast.parse(text)
        except SyntaxError as exc:
            raise EditError(f"does not parse: {exc.msg} at line {exc.lineno}") from None
    return text


def _search_replace(old: str, code: str) -> str:
    text = old
    for m in _SEARCH.finditer(code):
        search, replace = m.group(1), m.group(2)
        count = text.count(search)
        if count != 1:
            raise EditError(f"SEARCH text found {count} times (it must match exactly once): "
                            f"{search.strip()[:80]!r}")
        text = text.replace(search, replace, 1)
    return text


# -- merging Python by top-level definition ---------------------------------------------------
def merge_python(old: str, code: str) -> str:
    """`old` with the definitions, imports and assignments of `code` merged in."""
    code = textwrap.dedent(code)
    try:
        new_tree = ast.parse(code)
    except SyntaxError as exc:
        raise EditError(f"the code block does not parse: {exc.msg} at line {exc.lineno}; "
                        f"give complete functions") from None
    try:
        ast.parse(old)
    except SyntaxError:
        raise EditError("the existing file does not parse, so it cannot be edited by "
                        "function; give SEARCH/REPLACE hunks") from None
    new_lines = code.splitlines(keepends=True)
    lines = old.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for node in new_tree.body:
        segment = "".join(new_lines[_first_line(node) - 1:node.end_lineno])
        # re-split: a merged segment spans several lines, and ast line numbers index lines
        lines = "".join(_merge_node(lines, node, segment)).splitlines(keepends=True)
    return "".join(lines)


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _merge_node(lines: list[str], node: ast.stmt, segment: str) -> list[str]:
    tree = ast.parse("".join(lines))
    if isinstance(node, ast.Import | ast.ImportFrom):
        return _add_import(lines, tree, node, segment)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return _put_definition(lines, tree, node, segment)
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return _put_assignment(lines, tree, node, segment)
    return lines  # module docstrings, bare expressions, `if __name__` blocks: not merged


def _add_import(lines: list[str], tree: ast.Module, node: ast.stmt, segment: str) -> list[str]:
    have = {ast.dump(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
    if ast.dump(node) in have:
        return lines
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    if imports:
        at = max(n.end_lineno or n.lineno for n in imports)
    else:
        doc = tree.body[0] if tree.body and _is_docstring(tree.body[0]) else None
        at = doc.end_lineno if doc else 0
    return lines[:at] + [segment if segment.endswith("\n") else segment + "\n"] + lines[at:]


def _put_definition(lines: list[str], tree: ast.Module, node: ast.stmt, segment: str) -> list[str]:
    name = node.name  # type: ignore[attr-defined]
    for old in tree.body:
        if isinstance(old, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and old.name == name:
            return lines[:_first_line(old) - 1] + [segment] + lines[old.end_lineno:]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_method(node):
        owner = _class_with_method(tree, name)
        if owner is not None:
            _cls, method = owner
            indent = re.match(r"[ \t]*", lines[method.lineno - 1]).group(0)  # type: ignore[union-attr]
            body = textwrap.indent(segment, indent)
            return lines[:_first_line(method) - 1] + [body] + lines[method.end_lineno:]
    at = _append_point(tree, lines)
    block = ["\n", "\n", segment if segment.endswith("\n") else segment + "\n"]
    while at > 0 and not lines[at - 1].strip():  # no runs of blank lines before the new def
        at -= 1
    tail = lines[at:]
    if tail:
        block += ["\n", "\n"]
        while tail and not tail[0].strip():
            tail = tail[1:]
    return lines[:at] + block + tail


def _append_point(tree: ast.Module, lines: list[str]) -> int:
    """Before a trailing `if __name__ == "__main__":` block, else at the end."""
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.If) and "__name__" in ast.unparse(last.test):
        return last.lineno - 1
    return len(lines)


def _is_method(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return bool(node.args.args) and node.args.args[0].arg in ("self", "cls")


def _class_with_method(tree: ast.Module, name: str) -> tuple[ast.ClassDef, ast.stmt] | None:
    hits = [(c, m) for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body
            if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and m.name == name]
    return hits[0] if len(hits) == 1 else None


def _put_assignment(lines: list[str], tree: ast.Module, node: ast.Assign | ast.AnnAssign,
                    segment: str) -> list[str]:
    target = _target_name(node)
    if target is None:
        return lines
    for old in tree.body:
        if isinstance(old, ast.Assign | ast.AnnAssign) and _target_name(old) == target:
            if target == "__all__":
                segment = _merged_all(old, node) or segment
            end = old.end_lineno or old.lineno
            return lines[:old.lineno - 1] + [segment if segment.endswith("\n")
                                             else segment + "\n"] + lines[end:]
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                               | ast.ClassDef)]
    at = _first_line(defs[0]) - 1 if defs else len(lines)
    return lines[:at] + [segment if segment.endswith("\n") else segment + "\n", "\n"] + lines[at:]


def _target_name(node: ast.Assign | ast.AnnAssign) -> str | None:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None


def _merged_all(old: ast.Assign | ast.AnnAssign, new: ast.Assign | ast.AnnAssign) -> str | None:
    """`__all__` keeps every old name and gains the new ones: a model listing only its new
    function must not un-export the rest."""
    try:
        before, after = ast.literal_eval(old.value), ast.literal_eval(new.value)  # type: ignore[arg-type]
    except ValueError:
        return None
    if not all(isinstance(x, list | tuple) for x in (before, after)):
        return None
    names = [n for n in dict.fromkeys([*before, *after]) if isinstance(n, str)]
    if list(before) == sorted(before):  # a sorted list stays sorted
        names.sort()
    items = "".join(f'    "{n}",\n' for n in names)
    return f"__all__ = [\n{items}]\n"


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)
