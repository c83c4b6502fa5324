"""pytest's rewritten pycs for the environment's pytest plugins, made once per environment.

pytest rewrites the asserts of every module of an installed plugin (a distribution with a
`pytest11` entry point: pytest-cov, platformdirs' plugin) as it imports them, and keeps the
result in a pyc of its own next to the module. The tests run with the environment
read-only (the sandbox), so no such pyc could ever be kept, and each run rewrote and
compiled them again: on crashtest (pytest-cov among its dev dependencies) that was most of
the ~30 ms a check's run took over the developer's own. They are rewritten here once,
where the environment is made, by its own Python (`-I -S`) running its own pytest's
rewriter on each plugin module's source — parsed and compiled, nothing of the plugins is
imported — and written where pytest looks (`__pycache__/<name>.<PYTEST_TAG>.pyc`). pytest
reads one only after checking its source hash, and points its code at the file's place;
only where it does that (9.2 and later: `_fix_code_filename`). A module whose rewrite
warns is left to the run, so the warning still comes from pytest.
"""

from __future__ import annotations

from pathlib import Path

from ..proc import run as run_proc
from ..proc import scrubbed_env

__all__ = ["VERSION", "rewrite_plugins"]

VERSION = 1  # recorded in the environment's shipyard-env.json once done

_SCRIPT = """
import importlib.metadata, os, sys, warnings
from pathlib import Path
site = sys.argv[1]
sys.path.append(site)  # after the standard library, as site-packages always is
from _pytest.assertion import rewrite
if not hasattr(rewrite, "_fix_code_filename"):
    sys.exit(0)
from _pytest.config import _iter_rewritable_modules
for dist in importlib.metadata.distributions(path=[site]):
    if not any(ep.group == "pytest11" for ep in dist.entry_points):
        continue
    files = [str(f) for f in dist.files or [] if not str(f).startswith("..")]
    names = set(_iter_rewritable_modules(files))
    for rel in files:
        module = rel[:-3].replace("/", ".")
        module = module[:-len(".__init__")] if module.endswith(".__init__") else module
        if not rel.endswith(".py") or not any(
                module == n or module.startswith(n + ".") for n in names):
            continue
        path = Path(site, rel)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                source_hash, co = rewrite._rewrite_test(path, None)
            except Exception:
                continue
        if seen:
            continue
        pyc = path.parent / "__pycache__" / (path.stem + "." + rewrite.PYTEST_TAG + ".pyc")
        pyc.parent.mkdir(exist_ok=True)
        tmp = "%s.tmp%d" % (pyc, os.getpid())
        with open(tmp, "wb") as fp:
            rewrite._write_pyc_fp(fp, source_hash, co)
        os.replace(tmp, pyc)
        print(module)
"""


def rewrite_plugins(env: Path, timeout: float) -> list[str]:
    """Rewrite the pytest plugins installed in the environment at `env` as pytest would;
    the modules done. Saving time only: a failure leaves the rewriting to the runs."""
    done: list[str] = []
    for site in sorted(env.glob("lib/python*/site-packages")):
        res = run_proc([str(env / "bin" / "python"), "-I", "-S", "-c", _SCRIPT, str(site)],
                       cwd=env, env=scrubbed_env({}), timeout=timeout)
        if res.ok:
            done += res.stdout.split()
    return done
