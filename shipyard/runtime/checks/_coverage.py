"""Line coverage, collected and measured: what ran, against each file's statements.

What ran comes from one of two collectors. On Python 3.12+ it is `_lines_script.py`, a
stdlib-only sys.monitoring recorder that runs the test command itself: coverage.py's
start-up alone (imports, configuration, path scans) costs ~0.2 s a run, which on
crashtest's 0.4 s suite was most of what coverage added (0.67 s against 0.40 s without
coverage; Python 3.12.1, coverage 7.17.5). Before 3.12 it is `coverage run` with its C
tracer. Either way, the statements are coverage.py's.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import coverage
from coverage.config import DEFAULT_EXCLUDE
from coverage.misc import join_regex
from coverage.parser import PythonParser

from ._util import write_whole

__all__ = ["LineCoverage", "coverage_data_lines", "line_coverage", "monitor_command",
           "monitored_lines", "read_statements", "statements_command"]

_SCRIPT = Path(__file__).with_name("_lines_script.py")

_MAX_SOURCE = 4 << 20  # larger "sources" are not parsed


@dataclass(frozen=True, kw_only=True, slots=True)
class LineCoverage:
    percent: float | None                # None when there was nothing to measure
    missing: dict[str, set[int]]         # absolute path -> statements never executed


def monitor_command(out: Path, data: Path, source: str, omit: str) -> list[str]:
    """The arguments that put `_lines_script.py` before `-m pytest …`, recording into
    `data`. The script is copied into `out`: the sandbox may hide shipyard's own tree
    (when the repository under review is shipyard's)."""
    script = out / _SCRIPT.name
    script.write_bytes(_SCRIPT.read_bytes())
    return [str(script), str(data), source, omit]


def monitored_lines(data: Path) -> dict[str, set[int]]:
    """What `_lines_script.py` recorded. Raises ValueError when it is not its format."""
    doc = json.loads(data.read_text(encoding="utf-8"))
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(v, list) and all(isinstance(n, int) for n in v) for v in files.values()):
        raise ValueError(f"{data.name} is not a line record")
    return {str(f): set(lines) for f, lines in files.items()}


def coverage_data_lines(data_files: list[Path], combined: Path) -> dict[str, set[int]]:
    """What coverage.py's data files recorded, combined.

    Raises coverage.exceptions.CoverageException when the data cannot be read."""
    cov = coverage.Coverage(data_file=str(combined), config_file=False)
    cov.combine([str(f) for f in data_files], keep=True)
    data = cov.get_data()
    return {f: set(data.lines(f) or ()) for f in data.measured_files()}


Statements = tuple[set[int], dict[int, int]]  # statement lines, multi-line map
# Files shipyard's Python cannot parse -> their statements, parsed by the tests' Python
# (a 3.12 project's `type X = …` or nested f-string quotes do not parse on 3.11).
ParseElsewhere = Callable[[list[Path]], dict[str, Statements]]


def line_coverage(executed: dict[str, set[int]], root: Path, cwd: Path,
                  omit: list[str], cache: Path, *,
                  elsewhere: tuple[str, ParseElsewhere] | None = None) -> LineCoverage:
    """Measure every Python file under `root` not `omit`ted against the `executed` lines.
    `elsewhere` (the tests' Python version, its parser) takes the files ours cannot read."""
    patterns = [p if p.startswith("*") else str(cwd / p) for p in omit]
    files = {Path(f) for f in executed if Path(f).is_relative_to(root)}
    files |= set(_python_files(root))
    kept = sorted(f for f in files if not any(fnmatch.fnmatch(str(f), p) for p in patterns))
    parsed = {f: _statements(f, cache) for f in kept}
    if elsewhere and (unread := [f for f, st in parsed.items() if st is None and f.is_file()]):
        parsed |= _statements_elsewhere(unread, cache, *elsewhere)
    total = hit = 0
    missing: dict[str, set[int]] = {}
    for path in kept:
        if parsed.get(path) is None:
            continue
        statements, multiline = parsed[path]
        ran = {multiline.get(n, n) for n in executed.get(str(path), ())}
        missed = statements - ran
        total, hit = total + len(statements), hit + len(statements) - len(missed)
        missing[str(path)] = missed
    return LineCoverage(percent=100.0 * hit / total if total else None, missing=missing)


def _python_files(root: Path):
    """Python files under `root`, in packages (directories with __init__.py) as coverage does."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d / "__init__.py").is_file()]
        yield from (here / f for f in filenames if f.endswith(".py"))


def _statements_elsewhere(paths: list[Path], cache: Path, version: str,
                          parse: ParseElsewhere) -> dict[Path, Statements | None]:
    """The statements of `paths` as the tests' Python `version` parses them, cached by
    content and version (a file no Python parses is remembered as such)."""
    keyed = {}
    for path in paths:
        source = path.read_bytes()
        keyed[path] = hashlib.sha256(f"{coverage.__version__}\0{version}\0".encode()
                                     + source).hexdigest()
    out: dict[Path, Statements | None] = {}
    todo = []
    for path, key in keyed.items():
        entry = cache / key[:2] / f"{key}.json"
        if entry.is_file():
            doc = json.loads(entry.read_text())
            out[path] = None if doc.get("x") else _decoded(doc)
        else:
            todo.append(path)
    found = parse(todo) if todo else {}
    for path in todo:
        got = found.get(str(path))
        out[path] = got
        doc = {"x": True} if got is None else _encoded(got)
        write_whole(cache / keyed[path][:2] / f"{keyed[path]}.json", json.dumps(doc))
    return out


def statements_command(out: Path, paths: list[Path]) -> tuple[list[str], Path]:
    """Arguments that print, into the returned file, the statements coverage.py's parser
    finds in `paths` on the Python that runs them (the tests' environment has coverage)."""
    script, result = out / "_statements.py", out / "statements.json"
    script.write_text(_STATEMENTS_SCRIPT)
    return [str(script), str(result), *map(str, paths)], result


def read_statements(result: Path) -> dict[str, Statements]:
    """What `statements_command` printed; {} when it printed nothing readable."""
    try:
        doc = json.loads(result.read_text(encoding="utf-8"))
        return {str(f): _decoded(v) for f, v in doc.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


_STATEMENTS_SCRIPT = """\
import json, sys
from coverage.config import DEFAULT_EXCLUDE
from coverage.misc import join_regex
from coverage.parser import PythonParser
found = {}
for name in sys.argv[2:]:
    parser = PythonParser(filename=name, exclude=join_regex(DEFAULT_EXCLUDE))
    try:
        parser.parse_source()
    except Exception:
        continue
    found[name] = {"s": sorted(parser.statements),
                   "m": {str(k): v for k, v in parser.multiline_map.items()}}
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump(found, fh)
"""


def _statements(path: Path, cache: Path) -> Statements | None:
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
        return _decoded(doc)
    parser = PythonParser(text=source.decode("utf-8", errors="replace"), filename=str(path),
                          exclude=join_regex(DEFAULT_EXCLUDE))
    try:
        parser.parse_source()
    except (coverage.exceptions.NotPython, SyntaxError, ValueError):
        return None
    statements, multiline = set(parser.statements), dict(parser.multiline_map)
    write_whole(entry, json.dumps(_encoded((statements, multiline))))
    return statements, multiline


def _encoded(statements: Statements) -> dict:
    """Statements as the cache (and `_STATEMENTS_SCRIPT`) write them."""
    lines, multiline = statements
    return {"s": sorted(lines), "m": multiline}


def _decoded(doc: dict) -> Statements:
    """What `_encoded` wrote, read back (JSON keys are strings)."""
    return set(doc["s"]), {int(k): int(n) for k, n in doc["m"].items()}
