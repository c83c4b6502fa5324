"""Coverage of the files a change touched, the rest taken from the base (issue 9).

Coverage costs about as much again as a suite's own run; on humanize it was most of
what a warm check paid over the bare test run. When the base's per-file coverage is
known (remembered by tree id, tests.py) and the change edits only modules of the
package under test — plus CI files and documentation that no test reads — the head
is measured on those modules alone, and every other file keeps the base's numbers.

That is exact for what a change can reach directly: its own lines, covered or not. It
assumes an unchanged file is covered as before; a change to tests, conftest, build
files, package data, a deleted or a non-package module is measured whole, as is any
change when the tests run doctests (a README can be a test then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ._util import git

__all__ = ["Merged", "changes", "focus", "merge", "runs_doctests"]

_REQUIREMENTS = re.compile(r"(^|/)requirements[^/]*\.txt$|^requirements/")
_DOCS = (".md", ".rst", ".txt")
_CONFIG = ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "conftest.py",
           "tests/conftest.py")


@dataclass(frozen=True, kw_only=True, slots=True)
class Merged:
    percent: float | None
    statements: dict[str, int]
    missing: dict[str, set[int]]


def changes(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """(status letter, path) of every path changed base..head, deletions included."""
    out = git(repo, "diff", "--name-status", "--no-renames", "-z", base, head)
    words = out.split("\0")
    return [(words[i][:1], words[i + 1]) for i in range(0, len(words) - 1, 2)]


def runs_doctests(tree: Path, args: tuple[str, ...]) -> bool:
    """Whether the test run may execute documentation (pytest's doctest options)."""
    if any("doctest" in a for a in args):
        return True
    for name in _CONFIG:
        try:
            if "doctest" in (tree / name).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def focus(changed: list[tuple[str, str]], measured: dict[str, Path], *,
          doctests: bool) -> list[Path] | None:
    """The measured files to cover, when the change allows measuring only them: every
    path is a measured module added or edited (`measured`: repo path -> where it runs),
    a CI file, or documentation no test reads. None: measure everything."""
    files: list[Path] = []
    for status, path in changed:
        if path.startswith(".github/") or (not doctests and _is_doc(path)):
            continue
        if status == "D" or path not in measured:
            return None
        files.append(measured[path])
    return files


def _is_doc(path: str) -> bool:
    """Documentation outside every package: docs/, or a top-level text file."""
    if _REQUIREMENTS.search(path):
        return False
    return path.startswith("docs/") or ("/" not in path and path.endswith(_DOCS))


def merge(base_statements: dict[str, int], base_missing: dict[str, set[int]],
          statements: dict[str, int], missing: dict[str, set[int]],
          measured: set[str]) -> Merged:
    """The head's coverage: the `measured` files as just measured, the others as at base."""
    stmts = {p: n for p, n in base_statements.items() if p not in measured} | statements
    miss = {p: s for p, s in base_missing.items() if p not in measured and p in stmts} | missing
    total = sum(stmts.values())
    hit = total - sum(len(miss.get(p, ())) for p in stmts)
    return Merged(percent=100.0 * hit / total if total else None, statements=stmts,
                  missing=miss)
