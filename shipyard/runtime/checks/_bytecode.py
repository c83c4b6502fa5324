"""Bytecode for the code under test, compiled outside the sandbox and kept by content.

Every check unpacks a fresh wheel (or exports a fresh tree), so Python compiled the
package under test anew on each run: six's one module cost ~60 ms of a 0.55 s sandboxed
run. Yet consecutive checks test trees a file or two apart. Each module is compiled here
once per content — by the target's own interpreter with `-I -S` (no `.pth` file, no
site, nothing of the tree or the environment runs: compiling runs no code) — and its
checked-hash pyc (PEP 552) is kept under the sha256 of its source. A later check copies
the pyc next to the same source; Python verifies the source hash at import and fixes the
code's file name to where the module now lies, so what runs is what compiling the source
would give. A module that does not compile is left to fail in the tests, as before.

Nothing written inside the sandbox is ever kept here: a test could write a pyc whose
header matches an honest source and whose code does not. Test files are not compiled:
pytest rewrites their asserts into its own pycs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ._testenv import envs_dir
from ._util import pytest_rewrites

__all__ = ["precompile"]

_VERSION = 1
# Run by the target's interpreter: compile each file given into its __pycache__, then keep
# the pyc under the source's sha256 (written whole, then renamed: readers never see half).
_SCRIPT = """
import hashlib, importlib.util, os, py_compile, shutil, sys
cache = sys.argv[1]
tag = os.path.join(cache, "tag")
with open(tag + ".tmp%d" % os.getpid(), "w") as fh:
    fh.write(sys.implementation.cache_tag or "")
os.replace(tag + ".tmp%d" % os.getpid(), tag)
for path in sys.argv[2:]:
    with open(path, "rb") as fh:
        key = hashlib.sha256(fh.read()).hexdigest()
    cfile = importlib.util.cache_from_source(path)
    try:
        py_compile.compile(path, cfile=cfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    except (py_compile.PyCompileError, OSError, ValueError):
        continue
    tmp = os.path.join(cache, "%s.pyc.tmp%d" % (key, os.getpid()))
    shutil.copyfile(cfile, tmp)
    os.replace(tmp, os.path.join(cache, key + ".pyc"))
"""


# A module compiled here that the tests never import is work the run would not have done:
# past this much new source in one check (a first check of a large package), the rest is
# left to the run, as before (~1 s of compiling on these machines).
FRESH_BYTES = 2 << 20


def precompile(python: Path, version: str, site: Path, timeout: float) -> tuple[int, int]:
    """Give the modules of the unpacked wheel at `site` their pycs: from the cache when the
    same source was compiled before, else compiled now and kept. Returns (reused, compiled).
    Bytecode only saves time: a cache that cannot be written (a read-only home) leaves the
    compiling to the run, as before, and is never an error of the check."""
    try:
        return _precompile(python, version, site, timeout)
    except OSError:
        return 0, 0


def _precompile(python: Path, version: str, site: Path, timeout: float) -> tuple[int, int]:
    cache = _cache_dir(python, version)
    cache.mkdir(parents=True, exist_ok=True)
    tag = _tag(cache)
    fresh: list[Path] = []
    budget, reused = FRESH_BYTES, 0
    for path in _modules(site):
        data = path.read_bytes()
        kept = cache / f"{hashlib.sha256(data).hexdigest()}.pyc"
        if tag and kept.is_file():
            target = path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(kept, target)
            reused += 1
        elif len(data) <= budget:
            fresh.append(path)
            budget -= len(data)
    if fresh:
        run_proc([str(python), "-I", "-S", "-c", _SCRIPT, str(cache), *map(str, fresh)],
                 cwd=cache, env=scrubbed_env({}), timeout=timeout)
    return reused, len(fresh)


def _cache_dir(python: Path, version: str) -> Path:
    """One folder per interpreter and version: a pyc is only good for the Python that
    wrote it (the tag names the minor version, not the build)."""
    real = os.path.realpath(python)
    who = hashlib.sha256(f"{_VERSION}\0{real}\0{version}".encode()).hexdigest()[:20]
    return envs_dir().parent / "bytecode" / who


def _tag(cache: Path) -> str | None:
    try:
        return (cache / "tag").read_text().strip() or None
    except OSError:
        return None


def _modules(root: Path) -> list[Path]:
    """The .py files under `root` that Python imports as they are: not test files (pytest
    rewrites those), nothing under `__pycache__` or a `.dist-info`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.endswith(
            (".dist-info", ".egg-info")) and not d.startswith(".")]
        out += [Path(dirpath, f) for f in filenames
                if f.endswith(".py") and not pytest_rewrites(f)]
    return sorted(out)
