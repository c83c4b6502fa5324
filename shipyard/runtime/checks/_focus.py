"""Changes no test can see: the tests run without coverage, the base's numbers stand (issue 9).

Coverage costs about as much again as a suite's own run (humanize: 16 s against 9 s
bare). A change that touches only CI files (`.github/`), and documentation outside every
package that no test reads, cannot move any line's coverage. Against a base whose
coverage is remembered (by tree id, tests.py), such a change runs the tests without
coverage and keeps the base's numbers. Anything else — a module, a test, conftest, a
build or requirements file, package data, a `test*.txt` pytest collects, any document
when a doctest option reads files — is measured whole.

(Measuring only the changed modules, with `coverage run --include`, was tried: on a
humanize change to one module it was no faster than measuring all of them, so it is not
kept.)
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

__all__ = ["DOC_DIRS", "inert", "runs_doctests"]

# Documentation folders: the names setuptools' own package discovery leaves out (its
# FlatLayoutPackageFinder excludes doc, docs and documentation); other backends include
# only the packages they are given. six keeps its documentation in `documentation/`.
DOC_DIRS = ("docs/", "doc/", "documentation/")

_REQUIREMENTS = re.compile(r"(^|/)requirements[^/]*\.txt$|^requirements/")
_DOCS = (".md", ".rst", ".txt")
# top-level documents conventionally written without an extension (six's CHANGES)
_DOC_NAMES = frozenset({"authors", "changes", "changelog", "contributors", "history", "news"})
_CONFIG = ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "conftest.py",
           "tests/conftest.py")


def runs_doctests(tree: Path, args: tuple[str, ...]) -> bool:
    """Whether the test run may execute documentation files: a doctest option other than
    `--doctest-modules` (which runs the modules' docstrings)."""
    def reads_docs(text: str) -> bool:
        return "doctest" in text.replace("doctest-modules", "").replace("doctest_modules", "")

    if any(reads_docs(a) for a in args):
        return True
    for name in _CONFIG:
        try:
            if reads_docs((tree / name).read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def inert(changed: list[tuple[str, str]], *, doctests: bool) -> bool:
    """Whether every changed path is a CI file or documentation no test reads. A Python
    file never is, wherever it lies: pytest collects `docs/test_x.py`, loads
    `docs/conftest.py`."""
    return bool(changed) and all(
        not path.endswith(".py") and (path.startswith(".github/")
                                      or (not doctests and _is_doc(path)))
        for _, path in changed)


def _is_doc(path: str) -> bool:
    """Documentation outside every package: docs/ (DOC_DIRS), or a top-level text file (not
    one pytest collects by default as a doctest: `test*.txt`)."""
    if _REQUIREMENTS.search(path) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], "test*.txt"):
        return False
    return path.startswith(DOC_DIRS) or ("/" not in path and (
        path.endswith(_DOCS) or path.lower() in _DOC_NAMES))
