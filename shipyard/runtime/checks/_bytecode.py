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
header matches an honest source and whose code does not.

Test files are pytest's: it rewrites their asserts into pycs of its own, and every check
rewrote every test file again (six's `test_six.py`: ~0.11 s of a 0.8 s check). They are
rewritten here the same way, by the target's interpreter with `-I -S` running the
environment's own pytest rewriter (`_pytest.assertion.rewrite`, installed from the index
by shipyard, never from the tree) on the file's source — parsed and compiled, never run —
and kept under its sha256 and pytest's tag (`cpython-312-pytest-9.2.0`). pytest reads such
a pyc only for a file it would rewrite, after checking its source hash, and points its
code at the file's place. Kept only where that holds the same: a pytest that fixes the
code's file name on load (9.2 and later), no `enable_assertion_pass_hook` in the
configuration, and no warning while rewriting (an always-true assert's warning must come
from the run).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env
from ._testenv import envs_dir
from ._util import pytest_rewrites

__all__ = ["precompile", "prerewrite"]

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
    return _place(cache, _files(site, lambda name: not pytest_rewrites(name)),
                  lambda fresh: run_proc([str(python), "-I", "-S", "-c", _SCRIPT, str(cache),
                                          *map(str, fresh)], cwd=cache, env=scrubbed_env({}),
                                         timeout=timeout))


# Run by the target's interpreter with the environment's site-packages the only one on the
# path: rewrite each test file as pytest would, and keep the pyc under the source's sha256.
_REWRITE = """
import hashlib, os, sys, warnings
from pathlib import Path
cache = sys.argv[1]
sys.path.append(sys.argv[2])  # after the standard library, as site-packages always is
from _pytest.assertion import rewrite
tag = os.path.join(cache, "tag")
# an older pytest keeps the file name the pyc was written for: no cache then
with open(tag + ".tmp%d" % os.getpid(), "w") as fh:
    fh.write(rewrite.PYTEST_TAG if hasattr(rewrite, "_fix_code_filename") else "")
os.replace(tag + ".tmp%d" % os.getpid(), tag)
if not hasattr(rewrite, "_fix_code_filename"):
    sys.exit(0)
for path in sys.argv[3:]:
    with open(path, "rb") as fh:
        key = hashlib.sha256(fh.read()).hexdigest()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            source_hash, co = rewrite._rewrite_test(Path(path), None)
        except Exception:
            continue
    if seen:
        continue
    tmp = os.path.join(cache, "%s.pyc.tmp%d" % (key, os.getpid()))
    with open(tmp, "wb") as fp:
        rewrite._write_pyc_fp(fp, source_hash, co)
    os.replace(tmp, os.path.join(cache, key + ".pyc"))
"""


def prerewrite(python: Path, versions: dict, env_site: Path, roots: list[Path],
               config: str, timeout: float) -> tuple[int, int]:
    """Give the test files under `roots` pytest's rewritten pycs, kept by content as
    `precompile` keeps modules'. `config` is the text of the files and arguments that
    configure pytest: with `enable_assertion_pass_hook` in it nothing is done, as
    whenever the cache cannot be used. Returns (reused, rewritten)."""
    if "enable_assertion_pass_hook" in config or not versions.get("pytest"):
        return 0, 0
    try:
        cache = _cache_dir(python, f"{versions.get('python', '')}\0pytest "
                                   f"{versions['pytest']}")
        cache.mkdir(parents=True, exist_ok=True)
        files = [f for root in roots for f in _files(root, pytest_rewrites)]
        return _place(cache, files, lambda fresh: run_proc(
            [str(python), "-I", "-S", "-c", _REWRITE, str(cache), str(env_site),
             *map(str, fresh)], cwd=cache, env=scrubbed_env({}), timeout=timeout))
    except OSError:
        return 0, 0


def _place(cache: Path, files: list[Path], make: Callable[[list[Path]], object]
           ) -> tuple[int, int]:
    """Copy each file's kept pyc next to it (`__pycache__/<stem>.<tag>.pyc`); hand those
    not kept yet, within FRESH_BYTES, to `make`, which keeps them for the next check."""
    tag = _tag(cache)
    fresh: list[Path] = []
    budget, reused = FRESH_BYTES, 0
    for path in files:
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
        make(fresh)
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


def _files(root: Path, wanted: Callable[[str], bool]) -> list[Path]:
    """The .py files under `root` whose names are `wanted`: nothing under `__pycache__`,
    a `.dist-info` or a hidden folder. Modules for `precompile` (not test files: pytest
    rewrites those), test files for `prerewrite`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.endswith(
            (".dist-info", ".egg-info")) and not d.startswith(".")]
        out += [Path(dirpath, f) for f in filenames if f.endswith(".py") and wanted(f)]
    return sorted(out)
