"""Context for real code: a map of a repository's symbols, and the files a request needs.

A small model has an 8k-token context; a real repository has hundreds of files.
`repo_map` outlines every Python module from its AST (top-level functions and
classes with their signatures and the first line of their docstring; methods
under their class). `relevant_files` ranks files by the request's terms with
BM25 over identifier-aware tokens (`send_file` and `SendFile` both give
`send`, `file`), weighting a file's path and symbols above its body, puts the
files the planner named first, and packs whole files into a character budget —
a file too big for what is left is given as its outline instead.

    tree = Tree.from_dir(Path("app"))            # git ls-files, or every file
    ctx = relevant_files(tree, "Rotate the session secret key", planned=["src/x.py"],
                         budget_chars=24_000)   # {path: text}
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .proc import run

__all__ = [
    "ModuleMap",
    "Symbol",
    "Tree",
    "is_test_path",
    "map_module",
    "rank_files",
    "relevant_files",
    "render_map",
    "repo_map",
    "tokenize",
]

Reader = Callable[[str], str | None]
TEXT_SUFFIXES = (".py", ".pyi", ".toml", ".md", ".rst", ".txt", ".cfg", ".ini", ".yaml", ".yml",
                 ".json")
_MAX_FILE_BYTES = 400_000  # bigger files are data, not code to read
_PATH_WEIGHT, _SYMBOL_WEIGHT = 3, 2
_K1, _B = 1.5, 0.75
_TEST_WEIGHT = 0.8  # a test of the code matters, the code itself more


@dataclass(frozen=True, kw_only=True, slots=True)
class Symbol:
    name: str                                   # "Class.method" for methods
    kind: Literal["function", "class", "method"]
    signature: str                              # "def f(a: int, *, b=1) -> str"
    doc: str                                    # first docstring line, "" if none
    line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ModuleMap:
    path: str
    doc: str
    symbols: tuple[Symbol, ...]
    error: str | None = None                    # why the module could not be parsed

    def outline(self) -> str:
        """The module as a few lines: its docstring, then one line per symbol."""
        head = f"# {self.path}" + (f" — {self.doc}" if self.doc else "")
        if self.error:
            head += f"  [not parsed: {self.error}]"
        lines = [head] + [f"{'    ' if s.kind == 'method' else ''}{s.signature}"
                          + (f"  # {s.doc}" if s.doc else "") for s in self.symbols]
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True, slots=True)
class Tree:
    """The files of a repository and how to read them (a checkout, a commit, a dict)."""

    paths: tuple[str, ...]
    read: Reader = field(repr=False)

    @classmethod
    def from_dir(cls, root: Path, paths: Iterable[str] | None = None) -> Tree:
        """`root`'s text files: `paths`, else git's tracked files, else every file under it."""
        root = Path(root)
        if paths is None:
            paths = _git_files(root)
        if paths is None:
            paths = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                     and ".git" not in p.relative_to(root).parts)

        def read(path: str) -> str | None:
            p = root / path
            if not p.is_file() or p.stat().st_size > _MAX_FILE_BYTES:
                return None
            return p.read_text(encoding="utf-8", errors="replace")
        return cls(paths=tuple(sorted(p for p in paths if p.endswith(TEXT_SUFFIXES))), read=read)

    @classmethod
    def from_mapping(cls, files: Mapping[str, str]) -> Tree:
        return cls(paths=tuple(sorted(files)), read=files.get)


def _git_files(root: Path) -> list[str] | None:
    res = run(["git", "ls-files", "-z"], cwd=root, timeout=60)
    return [p for p in res.stdout.split("\0") if p] if res.ok else None


# -- the map -------------------------------------------------------------------------------
def map_module(path: str, source: str) -> ModuleMap:
    """The outline of one Python module; a syntax error gives an empty map naming it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        return ModuleMap(path=path, doc="", symbols=(), error=f"{type(exc).__name__}: {exc}")
    symbols: list[Symbol] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            symbols.append(_function(node, node.name, "function"))
        elif isinstance(node, ast.ClassDef):
            symbols.append(_class(node))
            symbols += [_function(n, f"{node.name}.{n.name}", "method") for n in node.body
                        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return ModuleMap(path=path, doc=_first_line(ast.get_docstring(tree)), symbols=tuple(symbols))


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0].strip()[:120] if doc and doc.strip() else ""


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str,
              kind: Literal["function", "method"]) -> Symbol:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    sig = f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"
    return Symbol(name=name, kind=kind, signature=sig, doc=_first_line(ast.get_docstring(node)),
                  line=node.lineno)


def _class(node: ast.ClassDef) -> Symbol:
    bases = ", ".join(ast.unparse(b) for b in [*node.bases, *node.keywords])
    return Symbol(name=node.name, kind="class", signature=f"class {node.name}({bases})" if bases
                  else f"class {node.name}", doc=_first_line(ast.get_docstring(node)),
                  line=node.lineno)


def repo_map(tree: Tree) -> list[ModuleMap]:
    """The map of every Python module in `tree`, in path order."""
    out = []
    for path in tree.paths:
        if path.endswith((".py", ".pyi")) and (text := tree.read(path)) is not None:
            out.append(map_module(path, text))
    return out


def render_map(maps: Sequence[ModuleMap], budget_chars: int) -> str:
    """The outlines of `maps`, in their order, as many as fit into `budget_chars`."""
    parts, used = [], 0
    for m in maps:
        text = m.outline()
        if used + len(text) + 1 > budget_chars:
            break
        parts.append(text)
        used += len(text) + 1
    return "\n".join(parts)


# -- retrieval -----------------------------------------------------------------------------
_STOP_WORDS = """a an and are as at be by can for from has have if in into is it its of on or
should so that the their then there these this to was we when which will with without would
add adds allow allows make makes use uses new support supports need needs want please also able
def self cls return import none true false not class pass else elif try except raise str int
bool dict list"""
_STOP = frozenset(_STOP_WORDS.split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def tokenize(text: str) -> list[str]:
    """Identifier-aware terms: `SecureCookieSession` -> securecookiesession, secure, cookie,
    session; `send_file` -> send_file, send, file; lower-cased, light plural stemming."""
    return [t for ident in _IDENT.findall(text) for t in _terms(ident)]


def _counted_terms(text: str) -> Counter[str]:
    """`Counter(tokenize(text))`, expanding each distinct identifier once."""
    out: Counter[str] = Counter()
    for ident, n in Counter(_IDENT.findall(text)).items():
        for t in _terms(ident):
            out[t] += n
    return out


@functools.lru_cache(maxsize=65_536)
def _terms(ident: str) -> tuple[str, ...]:
    parts = [p for chunk in ident.split("_") for p in _CAMEL.findall(chunk)]
    words = [ident.lower()] + ([p.lower() for p in parts] if len(parts) > 1 else [])
    return tuple(_stem(w) for w in words if len(w) > 1 and w not in _STOP)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _document(path: str, text: str) -> Counter[str]:
    """A file's terms: its path and the names it defines count more than its body.
    (Names come from a regex, not the AST: parsing every file would triple the cost.)"""
    terms = _counted_terms(text)
    for t in tokenize(path.replace("/", " ")):
        terms[t] += _PATH_WEIGHT
    for name in _DEFINES.findall(text):
        for t in _terms(name):
            terms[t] += _SYMBOL_WEIGHT
    return terms


def is_test_path(path: str) -> bool:
    """A test file by the usual conventions: test_x.py, x_test.py, tests.py, conftest.py,
    or anything under a tests/ or test/ directory."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name in ("test.py", "tests.py", "conftest.py") \
        or name.endswith(("_test.py", "_tests.py")) or "/tests/" in f"/{path}" \
        or "/test/" in f"/{path}"


def rank_files(docs: Mapping[str, str], query: str,
               planned: Sequence[str] = ()) -> list[tuple[str, float]]:
    """Every path of `docs` ranked by BM25 against `query`; `planned` paths first, in order."""
    q = set(tokenize(query))
    bags = {p: _document(p, t) for p, t in docs.items()}
    n = len(bags) or 1
    avg = sum(sum(b.values()) for b in bags.values()) / n or 1.0
    df = Counter(t for b in bags.values() for t in q & b.keys())
    scores = {}
    for path, bag in bags.items():
        length = sum(bag.values())
        s = 0.0
        for t in q & bag.keys():
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            tf = bag[t]
            s += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / avg))
        scores[path] = s * (_TEST_WEIGHT if is_test_path(path) else 1.0)
    first = [p for p in dict.fromkeys(planned) if p in scores]
    rest = sorted((p for p in scores if p not in first), key=lambda p: (-scores[p], p))
    top = max(scores.values(), default=0.0) + 1.0
    return [(p, top + len(first) - i) for i, p in enumerate(first)] + [(p, scores[p])
                                                                       for p in rest]


def relevant_files(tree: Tree, query: str, planned: Sequence[str] = (), *,
                   budget_chars: int = 24_000) -> dict[str, str]:
    """The files a request needs, best first, within `budget_chars` in all.

    A file is given whole when it fits into what is left of the budget, else its outline
    from the repository map when that fits; files with no matching term are left out
    unless the planner named them.
    """
    docs = {p: t for p in tree.paths if (t := tree.read(p)) is not None}
    out: dict[str, str] = {}
    used = 0
    for path, score in rank_files(docs, query, planned):
        if score <= 0 and path not in planned:
            break
        text = docs[path]
        if used + len(text) > budget_chars:
            text = map_module(path, text).outline() if path.endswith(".py") else ""
        if text and used + len(text) <= budget_chars:
            out[path] = text
            used += len(text)
    return out
