"""Line coverage from coverage.py data files, in shipyard's process, cached per file.

`coverage json` re-parses every measured source file on every run: on a repository
of a few hundred modules that is ~10 s for head and again for base, whatever the diff
(measured on pygments, 343 files). Here each file's statements are parsed once per
content (cached under the environments' cache by sha256), so a check re-parses only
the files the change touched. Nothing of the tree is imported: files are read as text.
The numbers match coverage.py's line coverage with its default exclusions.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import coverage
from coverage.config import DEFAULT_EXCLUDE
from coverage.misc import join_regex
from coverage.parser import PythonParser

from ._util import write_whole

__all__ = ["LineCoverage", "line_coverage"]

_MAX_SOURCE = 4 << 20  # larger "sources" are not parsed


@dataclass(frozen=True, kw_only=True, slots=True)
class LineCoverage:
    percent: float | None                # None when there was nothing to measure
    missing: dict[str, set[int]]         # absolute path -> statements never executed


def line_coverage(data_files: list[Path], combined: Path, root: Path, cwd: Path,
                  omit: list[str], cache: Path) -> LineCoverage:
    """Combine `data_files`, and measure every Python file under `root` not `omit`ted.

    Raises coverage.exceptions.CoverageException when the data cannot be read."""
    cov = coverage.Coverage(data_file=str(combined), config_file=False)
    cov.combine([str(f) for f in data_files], keep=True)
    data = cov.get_data()
    patterns = [p if p.startswith("*") else str(cwd / p) for p in omit]
    files = {Path(f) for f in data.measured_files() if Path(f).is_relative_to(root)}
    files |= set(_python_files(root))
    total = hit = 0
    missing: dict[str, set[int]] = {}
    for path in sorted(files):
        if any(fnmatch.fnmatch(str(path), p) for p in patterns):
            continue
        parsed = _statements(path, cache)
        if parsed is None:
            continue
        statements, multiline = parsed
        executed = {multiline.get(n, n) for n in (data.lines(str(path)) or ())}
        missed = statements - executed
        total, hit = total + len(statements), hit + len(statements) - len(missed)
        missing[str(path)] = missed
    return LineCoverage(percent=100.0 * hit / total if total else None, missing=missing)


def _python_files(root: Path):
    """Python files under `root`, in packages (directories with __init__.py) as coverage does."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d / "__init__.py").is_file()]
        yield from (here / f for f in filenames if f.endswith(".py"))


def _statements(path: Path, cache: Path) -> tuple[set[int], dict[int, int]] | None:
    """The statement lines of `path` and its multi-line map; None for a non-Python file."""
    try:
        source = path.read_bytes()
    except OSError:
        return None
    if len(source) > _MAX_SOURCE:
        return None
    key = hashlib.sha256(coverage.__version__.encode() + b"\0" + source).hexdigest()
    entry = cache / key[:2] / f"{key}.json"
    if entry.is_file():
        doc = json.loads(entry.read_text())  # written whole (write_whole) or not at all
        return set(doc["s"]), {int(k): v for k, v in doc["m"].items()}
    parser = PythonParser(text=source.decode("utf-8", errors="replace"), filename=str(path),
                          exclude=join_regex(DEFAULT_EXCLUDE))
    try:
        parser.parse_source()
    except (coverage.exceptions.NotPython, SyntaxError, ValueError):
        return None
    statements, multiline = set(parser.statements), dict(parser.multiline_map)
    write_whole(entry, json.dumps({"s": sorted(statements), "m": multiline}))
    return statements, multiline
