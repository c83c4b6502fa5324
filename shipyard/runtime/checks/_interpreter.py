"""Which interpreter the tests' environment is made from (issue 9: the target's own).

A project developed in a Python 3.12 `.venv` is tested on 3.12, not on whatever runs
shipyard: syntax, the standard library and wheels differ between versions, and a check on
another version can pass code the project's own environment rejects (or the reverse).
The interpreter is the base interpreter behind the target's own `.venv` (or `venv`) —
in the repository, or for a run's worktree in the repository it belongs to. Only the
venv's `pyvenv.cfg` and its `bin/python` link are read: the user's venv is never run,
never written. Without one (or when it points at an interpreter that is gone), it is the
interpreter behind shipyard's own venv.

The version also picks how coverage is collected: from Python 3.12, `sys.monitoring` lets
code that is not measured run untraced (`_lines_script.py`); before, coverage.py's C tracer.
Measured on crashtest, whose suite recurses ~1,000 frames: the suite under coverage.py took
2.1 s with the classic tracer and 1.1 s with its sysmon core, against 0.8 s without coverage
(Python 3.12.1, coverage 7.17.5, no bytecode cached).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Interpreter", "choose", "line_collector", "ours", "venv_config"]

_VENV_DIRS = (".venv", "venv")
_PYTHON_NAME = re.compile(r"python3?(\.\d+)?t?")


@dataclass(frozen=True, slots=True)
class Interpreter:
    path: str      # a base interpreter, never a venv's own python
    version: str   # "3.12.1"
    origin: str    # where it came from, for the evidence


def ours() -> Interpreter:
    """The interpreter behind shipyard's own venv."""
    path = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(path=path, version=".".join(map(str, sys.version_info[:3])),
                       origin="shipyard's interpreter (the repository has no .venv)")


def choose(repo: Path | None) -> Interpreter:
    """The interpreter behind `repo`'s own `.venv`/`venv`, else ours.

    The venv must be the developer's, not content under review: one that git tracks is
    ignored, and so is a link to an interpreter inside the repository or one not named
    like Python — a committed `.venv/bin/python -> ../evil.sh` would otherwise run, outside
    the sandbox, when the environment is made."""
    if repo is None:
        return ours()
    for name in _VENV_DIRS:
        venv = repo / name
        if (found := _behind(venv)) is not None and not _tracked(repo, name) \
                and not Path(found.path).is_relative_to(Path(os.path.realpath(repo))):
            return found
    return ours()


def _tracked(repo: Path, name: str) -> bool:
    """Whether git tracks anything under `name` (or cannot tell: then it counts as tracked)."""
    res = subprocess.run(["git", "-C", str(repo), "ls-files", "--", name], capture_output=True,
                         text=True, check=False)
    return res.returncode != 0 or bool(res.stdout.strip())


def line_collector(version: str) -> str:
    """What records the lines a run on Python `version` ("3.12.1") executes:
    "sys.monitoring" from 3.12 (`_coverage.monitor_command`), else "coverage.py"."""
    return "sys.monitoring" if _minor(version) >= (3, 12) else "coverage.py"


def _minor(version: str) -> tuple[int, int]:
    major, minor = ([int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0])[:2]
    return major, minor


def venv_config(venv: Path) -> dict[str, str]:
    """The venv's pyvenv.cfg as lower-case keys, `version` its Python version whether
    venv (`version`) or uv/virtualenv (`version_info`) wrote it; {} when unreadable."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    cfg = {k.strip().lower(): v.strip() for k, sep, v in
           (line.partition("=") for line in text.splitlines()) if sep}
    m = re.match(r"\d+\.\d+(\.\d+)?", cfg.get("version_info") or cfg.get("version") or "")
    return {**cfg, "version": m[0]} if m else {k: v for k, v in cfg.items() if k != "version"}


def _behind(venv: Path) -> Interpreter | None:
    """The base interpreter of the venv at `venv`, read from its pyvenv.cfg and links."""
    cfg = venv_config(venv)
    if not (version := cfg.get("version")):
        return None
    candidates = [Path(os.path.realpath(venv / "bin" / "python"))]
    if home := cfg.get("home"):
        major, minor = _minor(version)
        candidates += [Path(home) / f"python{major}.{minor}", Path(home) / "python3",
                       Path(home) / "python"]
    inside = Path(os.path.realpath(venv))
    for cand in candidates:
        real = Path(os.path.realpath(cand))
        if real.is_file() and os.access(real, os.X_OK) and not real.is_relative_to(inside) \
                and _PYTHON_NAME.fullmatch(real.name):
            return Interpreter(path=str(real), version=version,
                               origin=f"the interpreter behind {venv}")
    return None
