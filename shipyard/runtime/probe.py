"""Evaluate acceptance cases against a candidate tree: G5's inner loop.

Right after an edit, before any review, each case (`call` → `expected`) is run
against the candidate, and what it *returned* is recorded — not just pass/fail —
so the Implementer hears "slugify('a  b') returned 'a--b', expected 'a-b'" and
independent candidates can be compared on the same inputs.

The candidate is model-written code: it runs on a copy of the tree (no `.git`),
inside the bubblewrap sandbox when policy and machine allow, with a scrubbed
environment, a per-case alarm and an overall timeout. Results come back through
a file in a scratch folder, never through stdout the candidate could print to.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .plain import PLAIN_SOURCE
from .proc import run as run_proc
from .proc import scrubbed_env
from .sandbox import bwrap_path, wrap
from .workspace import state_dir

__all__ = ["CaseResult", "Probe", "copy_tree", "import_roots", "probe_cases"]

_RUNNER = r'''
import builtins, importlib, json, math, signal, sys
cases = json.load(open(sys.argv[1]))
def _alarm(*_):
    raise TimeoutError("took longer than %ss" % PER_CASE)
signal.signal(signal.SIGALRM, _alarm)
PLAIN
def same(got, exp):
    try:  # compared as built-in data: the code's own class could say == to anything
        got = _as_data(got, exp)
    except (TypeError, ValueError, OverflowError):
        return False
    return equal(got, exp)
def equal(got, exp):
    if isinstance(exp, float) or isinstance(got, float):
        try:
            return math.isclose(got, exp, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    if isinstance(exp, (list, tuple)) and isinstance(got, (list, tuple)):
        return type(got) is type(exp) and len(got) == len(exp) and all(
            equal(g, e) for g, e in zip(got, exp))
    return got == exp
out = []
for c in cases:
    ns = {}
    signal.alarm(PER_CASE)
    try:
        for name, mod in c["imports"].items():
            ns[name] = getattr(importlib.import_module(mod), name)
        if c["expected"].startswith("raises "):  # agents/raising.py
            want = c["expected"][7:].strip().rpartition(".")[2]
            try:
                got = eval(c["call"], ns)
            except Exception as e:
                # a builtin by the class itself (a class of the code's own could call itself
                # `ValueError`); any other, the module's own, by name
                kind = getattr(builtins, want, None)
                if isinstance(kind, type) and issubclass(kind, BaseException):
                    hit = issubclass(type(e), kind)
                else:
                    hit = want in [k.__name__ for k in type(e).__mro__]
                late = isinstance(e, TimeoutError) and str(e).startswith("took longer")
                out.append({"ok": hit and not late,
                            "got": ("raised %s: %s" % (type(e).__name__, e))[:300]})
                continue
            out.append({"ok": False, "got": repr(got)[:300]})
            continue
        got = eval(c["call"], ns)
        exp = eval(c["expected"], {})
        out.append({"ok": bool(same(got, exp)), "got": repr(got)[:300]})
    except BaseException as e:
        out.append({"ok": False, "got": ("raised %s: %s" % (type(e).__name__, e))[:300]})
    finally:
        signal.alarm(0)
json.dump(out, open(sys.argv[2], "w"))
'''


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseResult:
    call: str
    expected: str
    source: str
    ok: bool
    got: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe:
    results: tuple[CaseResult, ...]
    error: str | None = None     # the probe itself could not run (sandbox, timeout)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.ok]

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures

    def score(self, *, sources: Iterable[str] | None = None) -> int:
        keep = set(sources) if sources is not None else None
        return sum(r.ok for r in self.results if keep is None or r.source in keep)


def copy_tree(src: Path, files: Iterable[str], dest: Path) -> Path:
    """Copy the listed files of a worktree to `dest` (no `.git`, no symlinks followed)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel in files:
        s = src / rel
        if s.is_file() and not s.is_symlink():
            d = dest / rel
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s, d)
    return dest


def import_roots(tree: Path) -> list[Path]:
    """Where the tree's modules import from: its root, and `src/` in a src layout (the
    rule `agents.examples.module_of` names modules by: src/pkg/mod.py is `pkg.mod`).
    With the root alone, every case of a src-layout repository raised ModuleNotFoundError
    (python-humanize, 2026-12-07)."""
    return [tree, *([tree / "src"] if (tree / "src").is_dir() else [])]


def probe_cases(tree: Path, cases: list[dict], *, scratch: Path, python: str = sys.executable,
                sandbox: str = "auto", per_case_s: int = 5, timeout_s: float = 60) -> Probe:
    """Run `cases` ({call, expected, source, imports}) against `tree`."""
    if not cases:
        return Probe(results=())
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "cases.json").write_text(json.dumps(cases))
    (scratch / "runner.py").write_text(_RUNNER.replace("PER_CASE", str(int(per_case_s)))
                                       .replace("PLAIN\n", PLAIN_SOURCE))
    results = scratch / "results.json"
    results.unlink(missing_ok=True)
    argv = [python, "-P", str(scratch / "runner.py"), str(scratch / "cases.json"), str(results)]
    if sandbox != "off" and bwrap_path() is not None:
        argv = wrap(argv, workdir=tree, writable=[tree, scratch], hide=[state_dir()],
                    readable=[Path(sys.prefix), Path(sys.base_prefix),
                              Path(python).parent.parent])
    elif sandbox == "required":
        return Probe(results=(), error="policy sandbox = \"required\" but bubblewrap is not "
                                       "installed: apt-get install bubblewrap")
    env = scrubbed_env({"PYTHONPATH": os.pathsep.join(str(r) for r in import_roots(tree)),
                        "PYTHONHASHSEED": "0"})
    res = run_proc(argv, cwd=tree, env=env, timeout=timeout_s)
    if res.timed_out:
        return Probe(results=(), error=f"the cases did not finish within {timeout_s:.0f}s")
    if not results.is_file():
        tail = (res.stderr or res.stdout).strip()[-400:]
        return Probe(results=(), error=f"the candidate ended the probe early "
                                       f"(exit {res.returncode}): {tail}")
    try:
        raw = json.loads(results.read_text()[:2_000_000])
    except ValueError:
        return Probe(results=(), error="the probe's results were unreadable")
    if not isinstance(raw, list) or len(raw) != len(cases):
        return Probe(results=(), error="the probe's results were incomplete")
    return Probe(results=tuple(
        CaseResult(call=c["call"], expected=c["expected"], source=c["source"],
                   ok=bool(r.get("ok")), got=str(r.get("got", ""))[:300])
        for c, r in zip(cases, raw, strict=True)))
