"""What a target's noxfile.py says about its tests: read with `ast`, never executed.

A nox session is Python, so only what is written literally counts:

    @nox.session(python=["3.11", "3.12"])
    def tests(session):
        session.install("-e", ".[test]", "hypothesis")
        session.run("pytest", "-x", "tests/unit", *session.posargs)

gives the requirements `hypothesis`, the extras `test` and the pytest arguments
`-x tests/unit`. A session named `tests`/`test` is preferred; otherwise the first
session that runs pytest. Arguments built at run time (variables, `*session.posargs`)
are left out, never guessed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NoxTests", "read_noxfile"]

_PREFERRED = ("tests", "test", "unit", "pytest")
_EXTRAS = re.compile(r"^\.\[([\w,\s-]+)\]$")


@dataclass(frozen=True, kw_only=True, slots=True)
class NoxTests:
    session: str
    pytest_args: tuple[str, ...]
    requirements: tuple[str, ...]
    requirement_files: tuple[str, ...]   # `-r FILE`, relative to the tree
    extras: tuple[str, ...]


def read_noxfile(tree: Path) -> NoxTests | None:
    """The test session of `tree/noxfile.py`, or None (no file, no session running pytest,
    or a file that does not parse)."""
    try:
        module = ast.parse((tree / "noxfile.py").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    sessions = [f for f in module.body if isinstance(f, ast.FunctionDef) and _is_session(f)]
    found = [s for f in sessions if (s := _read_session(f)) is not None]
    if not found:
        return None
    return min(found, key=lambda s: (_PREFERRED.index(s.session) if s.session in _PREFERRED
                                     else len(_PREFERRED)))


def _is_session(func: ast.FunctionDef) -> bool:
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "session":
            return True
    return False


def _read_session(func: ast.FunctionDef) -> NoxTests | None:
    args: tuple[str, ...] | None = None
    reqs: list[str] = []
    files: list[str] = []
    extras: list[str] = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        words = [a.value for a in node.args
                 if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if node.func.attr == "run" and args is None:
            tail = _after_pytest(words)
            if tail is not None:
                args = tuple(w for w in tail if "{" not in w)
        elif node.func.attr == "install":
            previous = ""
            for word in words:
                if previous in ("-r", "--requirement"):
                    files.append(word)
                elif m := _EXTRAS.match(word):
                    extras += [e.strip() for e in m.group(1).split(",") if e.strip()]
                elif previous not in ("-c", "--constraint") \
                        and not word.startswith(("-", ".", "/")):
                    reqs.append(word)
                previous = word
    if args is None:
        return None
    return NoxTests(session=func.name, pytest_args=args, requirements=tuple(reqs),
                    requirement_files=tuple(files), extras=tuple(extras))


def _after_pytest(words: list[str]) -> list[str] | None:
    """The arguments after `pytest` (or `python -m pytest`), or None when pytest is not run."""
    for i, word in enumerate(words):
        if word == "pytest" or word.endswith("/pytest"):
            return words[i + 1:]
    return None
