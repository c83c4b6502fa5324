"""Running G3's cases against a candidate of G5's inner loop (graphs/build.py), and what
the Implementer is told of the result.

A candidate is probed in a copy of the tree (runtime/probe.py, in the sandbox): on the
acceptance cases, which decide whether it is green, and on inputs near them
(graphs/variants.py), where candidates that pass the same cases show whether they agree.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents.examples import module_of
from ..agents.raising import raised
from ..errors import RunError
from .acceptance import AUTHORITATIVE
from .empties import crash, empty_calls, says_nonempty
from .hints import hint
from .inert import constant, inert
from .variants import variants

if TYPE_CHECKING:
    from ..runtime.probe import Probe
    from .candidate import Candidate
    from .nodes import Nodes
    from .state import FeatureState

__all__ = ["behaviour", "build_outputs", "case_feedback", "empty_crashes", "fails_upheld",
           "ignores_input", "probe", "require_importable"]


def probe(n: Nodes, s: FeatureState, files: dict[str, str], acc: dict[str, Any],
          scratch: Path, cases: list[dict[str, Any]] | None = None, **limits: Any) -> Probe:
    from ..runtime.checks._util import target_python
    from ..runtime.probe import copy_tree, probe_cases

    ws = n.env.workspace(s)
    tree = copy_tree(ws.path, ws.git.tracked_files("HEAD"), scratch / "tree")
    for rel in build_outputs(n.env.root):
        if not (tree / rel).exists():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(n.env.root / rel, tree / rel)
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    cases = [c if "imports" in c else {**c, "imports": {
        k: v for k, v in acc["imports"].items() if re.search(rf"\b{re.escape(k)}\b", c["call"])}}
        for c in (acc["cases"] if cases is None else cases)]
    return probe_cases(tree, cases, scratch=scratch / "out", python=target_python(n.env.root),
                       sandbox=n.env.settings.policy.sandbox, **limits)


def build_outputs(root: Path) -> tuple[str, ...]:
    """Files a build wrote into the user's checkout that git ignores and the package
    imports: a compiled extension (`.so`, `.pyd`) next to tracked files, and a Python file
    the build configuration names (hatch-vcs's `version-file = "src/humanize/_version.py"`,
    setuptools-scm's `write_to`). `humanize/__init__.py` imports its `_version`, so without
    it no module of the package imports from the tracked files alone. Any other ignored
    file (a `settings_local.py` with credentials) stays out of the tree model-written code
    runs in. Whole ignored folders (`.venv/`, `build/`) are one entry each (`--directory`)
    and are left out. Read at every probe (~3 ms): the user may build while a run waits,
    then resume it in the same process (the web console)."""
    from ..runtime.checks._util import git

    try:
        out = git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                  "--directory")
    except RuntimeError:
        return ()
    config = "\n".join(f.read_text(errors="replace") for f in (
        root / "pyproject.toml", root / "setup.py", root / "setup.cfg") if f.is_file())
    return tuple(p for p in out.split("\0") if (p.endswith((".so", ".pyd")) or (
        p.endswith(".py") and _named(p, config))) and "__pycache__" not in p
        and (root / p).is_file() and not (root / p).is_symlink())


def _named(path: str, config: str) -> bool:
    """Whether `config` names `path` whole: `data.py` is not named by `pkg/metadata.py`."""
    return re.search(rf"(?<![\w/.-]){re.escape(path)}(?![\w/.-])", config) is not None


def require_importable(n: Nodes, s: FeatureState, acc: dict[str, Any], scratch: Path) -> None:
    """Raise RunError, naming the fix, when a module the cases import that the repository
    already has cannot be imported from its files before any candidate is written. That is
    the environment, not the Implementer's code: on python-humanize every one of sixteen
    attempts "failed" on ModuleNotFoundError before src/ was on the probe's path. A module
    the change creates is not there yet; its package is checked instead."""
    from ..runtime.checks._util import target_python

    tracked = {module_of(p) for p in n.env.workspace(s).git.tracked_files("HEAD")
               if p.endswith(".py")}
    checks = [{"call": "0", "expected": "0", "source": "import", "imports": {"__name__": m}}
              for m in sorted({_existing(mod, tracked) for mod in acc["imports"].values()}
                              - {None})]
    if not checks:
        return
    ran = probe(n, s, {}, acc, scratch, checks)
    bad = [(c["imports"]["__name__"], r.got) for c, r in zip(checks, ran.results, strict=True)
           if not r.ok]
    if ran.error:
        raise RunError(f"G5 cannot run the acceptance cases: {ran.error}")
    if bad:
        module, why = bad[0]
        raise RunError(
            f"G5 cannot import {module} from the repository's files ({why}), so no candidate "
            f"could be tested. Cases run with {target_python(n.env.root)} on the tracked files "
            f"(src/ on the path) and the files a build left in {n.env.root} that git ignores "
            f"and the package imports (a version file its build names, compiled extensions). "
            f"Build the package there once (`pip install -e .`), or for a missing "
            f"dependency create {n.env.root}/.venv with the repository's dependencies; "
            f"then resume the run")


def _existing(module: str, tracked: set[str]) -> str | None:
    """`module`, or the nearest package above it, among the modules of tracked files."""
    parts = module.split(".")
    while parts and ".".join(parts) not in tracked:
        parts = parts[:-1]
    return ".".join(parts) or None


def behaviour(n: Nodes, s: FeatureState, c: Candidate, acc: dict[str, Any],
              scratch: Path) -> tuple[str, ...] | None:
    """What `c` returns on inputs near the cases' (graphs/variants.py); None when it could
    not be run (it then has no say in agreement). A slow input is cut short, not waited
    for: `fib(13)` for `fib(12)` must not hold up the loop."""
    calls = variants([case["call"] for case in acc["cases"]])
    if not calls:
        return ()
    ran = probe(n, s, c.files, acc, scratch, [
        {"call": call, "expected": "None", "source": "variant"} for call in calls],
        per_case_s=1, timeout_s=20)
    return None if ran.error else tuple(r.got for r in ran.results)


def empty_crashes(n: Nodes, s: FeatureState, files: dict[str, str], acc: dict[str, Any],
                  scratch: Path, said: str) -> list[str]:
    """What a candidate that passes every documented example is told when it raises
    IndexError on the empty value of an argument (graphs/empties.py); nothing when `said`
    (the request and the code it targets) calls the input non-empty or a case expects an
    IndexError."""
    if says_nonempty(said) or any("IndexError" in c["expected"] for c in acc["cases"]):
        return []
    documented = [c["call"] for c in acc["cases"] if c["source"] in AUTHORITATIVE]
    calls = empty_calls(documented or [c["call"] for c in acc["cases"]])
    if not calls:
        return []
    ran = probe(n, s, files, acc, scratch, [
        {"call": call, "expected": "None", "source": "empty"} for call in calls],
        per_case_s=1, timeout_s=20)
    return [] if ran.error else [m for r in ran.results if (m := crash(r.call, r.got))]


def ignores_input(n: Nodes, s: FeatureState, c: Candidate, acc: dict[str, Any],
                  scratch: Path) -> list[str]:
    """What a candidate is told when it returns one value for every case, though the cases
    expect several, and for every input near them (graphs/inert.py); nothing otherwise.
    The inputs near the cases are run only for a candidate constant on the cases."""
    results = c.probe.results if c.probe is not None else ()
    expected = [r.expected for r in results]
    if (value := constant([r.got for r in results], expected)) is None:
        return []
    near = behaviour(n, s, c, acc, scratch)
    func = acc["cases"][0]["call"].split("(", 1)[0] if acc["cases"] else "the function"
    return [m] if near is not None and (m := inert(func, value, expected, near)) else []


def fails_upheld(c: Candidate, upheld: AbstractSet[tuple[str, str]]) -> bool:
    return c.probe is not None and any((r.call, r.expected) in upheld
                                       for r in c.probe.failures)


def case_feedback(result: Probe | None,
                  upheld: AbstractSet[tuple[str, str]] = frozenset()) -> list[str]:
    if result is None:
        return []
    if result.error:
        return [result.error]
    # While a documented example fails, only documented examples are shown: the Test
    # Engineer's proposed cases may be wrong, and a 0.5B model chases every line it is given.
    # Then the cases the Test Engineer upheld when asked again (graphs/reask.py) alone.
    documented = [r for r in result.failures if r.source in AUTHORITATIVE]
    confirmed = [r for r in result.failures if (r.call, r.expected) in upheld]
    return [(f"{r.call} {_did(r.got)}, expected it to raise {error}"
             if (error := raised(r.expected)) else
             f"{r.call} returned {r.got}, expected {r.expected}"
             + (f" ({h})" if (h := hint(r.got, r.expected)) else ""))
            for r in (documented or confirmed or result.failures)[:6]]


def _did(got: str) -> str:
    return got if got.startswith("raised ") else f"returned {got}"
