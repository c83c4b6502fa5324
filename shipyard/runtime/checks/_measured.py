"""What a test run's line collector left, read into coverage numbers (the tests check).

The collector is picked by the tests' Python (`_interpreter.line_collector`): the
sys.monitoring recorder writes `lines.json`, coverage.py its data files. Both are read
in shipyard's process (`_coverage.py`: nothing of the tree is imported or run); only the
files shipyard's Python cannot parse (newer syntax) are parsed by the tests' Python, in
the sandbox.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ._coverage import (
    LineCoverage,
    ParseElsewhere,
    Statements,
    coverage_data_lines,
    line_coverage,
    monitor_command,
    monitored_lines,
    read_statements,
    statements_command,
)
from ._interpreter import line_collector
from ._testenv import envs_dir
from ._testsetup import Setup, logged
from .base import Finding

__all__ = ["collector_argv", "collector_for", "read_coverage"]


def collector_for(setup: Setup) -> str:
    """What records executed lines on the environment's Python (`line_collector`)."""
    return line_collector(_python_version(setup))


def _python_version(setup: Setup) -> str:
    """The tests' Python version ("3.12.1"), "" when the environment does not say."""
    return setup.details.get("versions", {}).get("python", "")


def collector_argv(collector: str | None, out: Path, lines: Path, data: Path, source: str,
                   omit: str) -> list[str]:
    """What goes between `python -P` and `-m pytest` to record the lines run: the
    sys.monitoring recorder into `lines`, `coverage run` into `data`, or nothing."""
    if collector is None:
        return []
    if collector == "sys.monitoring":
        return monitor_command(out, lines, source, omit)
    return ["-m", "coverage", "run", f"--data-file={data}", f"--source={source}",
            f"--omit={omit}"]


def read_coverage(out: Path, lines: Path | None, setup: Setup,
                  omit: str) -> tuple[LineCoverage | None, Finding | None]:
    """Coverage from what the collector recorded (`lines`, else coverage.py's data files
    in `out`), or the finding that says why there is none."""
    import coverage

    files = ([lines] if lines.is_file() else []) if lines is not None else \
        [out / ".coverage"] if (out / ".coverage").is_file() else sorted(out.glob(".coverage.*"))
    if not files:
        return None, Finding(rule="tests.no-coverage", severity="high", path=None, line=None,
                             message="the test run left no coverage data: it ended before "
                                     "coverage could save it (os._exit, a crash, a kill)")
    root = setup.tree / setup.source  # an absolute source stays itself
    try:
        executed = monitored_lines(files[0]) if lines is not None else \
            coverage_data_lines(files, out / "combined.coverage")
        return line_coverage(executed, root, setup.tree, omit.split(","),
                             envs_dir().parent / "coverage-statements",
                             elsewhere=_parser(setup, out)), None
    except (coverage.exceptions.CoverageException, ValueError) as exc:
        return None, Finding(rule="tests.coverage-data", severity="high", path=None, line=None,
                             message=f"coverage data unreadable: {exc}"[:500])


def _parser(setup: Setup, out: Path) -> tuple[str, ParseElsewhere] | None:
    """The tests' Python as a parser for the files shipyard's cannot parse (newer syntax),
    in the sandbox; None when it is shipyard's own version."""
    version = _python_version(setup)
    if not version or version.split(".")[:2] == [str(v) for v in sys.version_info[:2]]:
        return None

    def parse(paths: list[Path]) -> dict[str, Statements]:
        argv, result = statements_command(out, paths)
        cmd = [str(setup.python), *setup.flags, *argv]
        run_proc(setup.confine(logged(cmd, out / "statements.log"), setup.tree, out),
                 cwd=setup.tree, env=scrubbed_env(setup.env), timeout=120)
        return read_statements(result)
    return version, parse
