"""`gates check` on real repositories: false blocks, planted defects, cold/warm cost.

    python benchmarks/real_repos.py --n 5 [--repos humanize,six,crashtest,packaging] [--mirror DIR]
    python benchmarks/real_repos.py --n 5 --python /path/to/python3.12   # the dev .venv's Python

For each repository (a git dir from the `fetch` tool, or any clone URL/path, cloned
into a temporary directory whose working copy stays on its default branch):

- the last N first-parent (merged) commits are checked with every check, oldest first
  (the order they were merged in, so a commit's base is the head checked just before),
  base = the commit's first parent: each block is listed with the check and its first
  finding;
- planted defects (a covered function broken, committed on a branch while the
  working copy stays on main) go through the tests check: caught = it blocks;
- the tests check is timed cold (a new environment cache; uv's download cache may be
  warm) and warm (the same declarations again), against the repository's bare test
  run (`python -m pytest` in an editable dev venv at the clone's `.venv`, outside
  shipyard; the check tests on that venv's Python, as it would for a developer), in the
  developer's warm state: bytecode cached by an earlier run. The bare run is
  repeated right after each warm check, so both see the same load on a shared machine;
  warm/bare is the median of those per-commit ratios.

Set SHIPYARD_ADVISORIES_DB to an imported advisory database so that deps runs
(without one it is skipped under the default `advisories_missing = "ask"`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _git import git, identify

from shipyard.runtime.checks import CheckPolicy, run_checks
from shipyard.runtime.checks._declared import read_declarations
from shipyard.runtime.checks._testenv import find_uv


@dataclass(frozen=True)
class Repo:
    name: str
    shape: str
    source: str                                 # fetch mirror name or clone URL/path
    defects: tuple[tuple[str, str, str], ...]   # (path, old text, new text)


REPOS = {
    "humanize": Repo("humanize", "src layout, hatch-vcs", "python-humanize+humanize", (
        ("src/humanize/number.py", 'return "NaN"', 'return "nan"'),
        ("src/humanize/number.py", "return str(value)", "return str(value) + ' '"),
    )),
    "six": Repo("six", "flat setuptools (setup.py, one module)", "benjaminp+six", (
        # (ensure_binary is not a good target: six's EnsureTests class does not match
        # pytest's default python_classes, so its tests never run)
        ("six.py", "    def u(s):\n        return s\n", "    def u(s):\n        return s[::-1]\n"),
        ("six.py", 'return s.encode("latin-1")', 'return s.encode("utf-16")'),
    )),
    "crashtest": Repo("crashtest", "poetry (poetry-core), flat package", "sdispater+crashtest", (
        ("crashtest/frame.py", "return self._lineno", "return self._lineno + 1"),
        ("crashtest/frame.py", "return self._filename", "return self._function"),
    )),
    "packaging": Repo("packaging", "flit-core, src layout, PEP 735 dependency groups",
                      "pypa+packaging", (
        ("src/packaging/version.py", "return self.dev is not None or self.pre is not None",
         "return self.pre is not None"),
        ("src/packaging/version.py", "return self.release[0] if len(self.release) >= 1 else 0",
         "return self.release[-1] if len(self.release) >= 1 else 0"),
    )),
    "more-itertools": Repo("more-itertools", "flit-core 4, flat package, unittest via tox",
                           "more-itertools+more-itertools", (
        ("more_itertools/more.py", "return sum(compress(repeat(1), zip(iterable)))",
         "return sum(compress(repeat(1), zip(iterable))) + 1"),
        ("more_itertools/more.py", "    for item in iterable:\n        return item\n",
         "    for item in iterable:\n        return [item]\n"),
    )),
    "tomli": Repo("tomli", "flit-core, src layout, tox in pyproject, unittest", "hukkin+tomli", (
        ("src/tomli/_re.py", "return int(match.group(), 0)", "return int(match.group(), 0) + 1"),
        ("src/tomli/_parser.py", "return pos + 1, src[start_pos:pos]  # Skip ending apostrophe",
         "return pos + 1, src[start_pos:pos].upper()  # Skip ending apostrophe"),
    )),
}


@dataclass
class Row:
    repo: Repo
    commits: int = 0
    blocks: list[str] = field(default_factory=list)
    caught: int = 0
    planted: int = 0
    cold: float = 0.0
    warm: list[float] = field(default_factory=list)
    gates: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    reused: list[bool] = field(default_factory=list)  # the environment existed (truly warm)
    timings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def clone(spec: Repo, mirror: Path, dest: Path) -> Path:
    src = mirror / spec.source / "repo"
    url = str(src) if src.exists() else spec.source
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True)
    identify(dest)
    return dest


def tests_result(report):
    return next(c for c in report.checks if c.name == "tests")


def bench_repo(spec: Repo, n: int, mirror: Path, work: Path, python: str | None = None) -> Row:
    row = Row(spec)
    repo = clone(spec, mirror, work / spec.name)
    main = git(repo, "rev-parse", "HEAD")
    default = git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    policy = CheckPolicy()
    os.environ["SHIPYARD_ENVS_DIR"] = str(work / f"envs-{spec.name}")  # cold: a new cache
    # the developer's own setup, where a developer keeps it: the check then runs the
    # tests on the same Python (shipyard/runtime/checks/_interpreter.py)
    bare_py = bare_venv(repo, repo / ".venv", python)
    bare_run(repo, bare_py)  # the developer's bytecode cache, as after any earlier run
    commits = git(repo, "rev-list", "--first-parent", f"-n{n}", "HEAD").split()[::-1]
    for i, sha in enumerate(commits):
        base = git(repo, "rev-parse", f"{sha}^1")
        if i == 0:
            cold = run_checks(repo, base, sha, policy, only=["tests"])
            row.cold = tests_result(cold).duration_s
        started = time.perf_counter()
        report = run_checks(repo, base, sha, policy)
        row.gates.append(time.perf_counter() - started)
        row.warm.append(tests_result(report).duration_s)
        row.bare.append(bare_run(repo, bare_py))
        row.ratios.append(row.warm[-1] / row.bare[-1])
        summary = tests_result(report).summary
        row.reused.append(", reused)" in summary)
        wheel = re.search(r"wheel (built|patched|reused)", summary)
        row.timings.append(f"{sha[:8]} tests {row.warm[-1]:.2f} s, bare {row.bare[-1]:.2f} s, "
                           f"env {'reused' if row.reused[-1] else 'created'}, wheel "
                           f"{wheel[1] if wheel else 'none'}"
                           f"{', unmeasured (CI/docs only)' if 'coverage as at base' in summary else ''}")
        row.commits += 1
        for c in report.checks:
            if c.blocks:
                why = c.findings[0].message[:140] if c.findings else c.summary
                row.blocks.append(f"{sha[:8]} {c.name} ({c.status}): {why}")
    for j, (path, old, new) in enumerate(spec.defects):
        branch = f"planted-{j}"
        git(repo, "checkout", "-q", "-b", branch, main)
        text = (repo / path).read_text()
        if old not in text:
            row.notes.append(f"defect {j}: {old!r} not in {path}")
            git(repo, "checkout", "-q", default)
            continue
        (repo / path).write_text(text.replace(old, new, 1))
        git(repo, "commit", "-qam", f"planted defect {j}")
        git(repo, "checkout", "-q", default)  # the working copy stays on main
        report = run_checks(repo, main, branch, policy, only=["tests"])
        row.planted += 1
        row.caught += int(tests_result(report).blocks)
    return row


def bare_venv(repo: Path, venv: Path, python: str | None = None) -> Path:
    """The repository's own dev setup: an editable install in a venv, no shipyard."""
    uv = find_uv()
    decl = read_declarations(repo)
    py = venv / "bin" / "python"
    subprocess.run([uv, "venv", "-q", *(["--python", python] if python else []), str(venv)],
                   check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(py), "-e", str(repo),
                    *decl.requirements], check=True)
    return py


def bare_run(repo: Path, py: Path) -> float:
    """One `python -m pytest` of the working copy, in seconds, as a developer runs it:
    Python may cache bytecode (PYTHONDONTWRITEBYTECODE, set on some machines, is dropped),
    and the run before this one has cached it (`bare_venv` warms it up)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                   check=False, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3, help="merged commits per repository")
    ap.add_argument("--repos", default=",".join(REPOS),
                    help=f"comma-separated, from: {', '.join(REPOS)}")
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"),
                    help="where fetched snapshots live (<owner>+<name>/repo); a repository "
                         "missing there is cloned from its source instead")
    ap.add_argument("--python", help="the interpreter of the developer's .venv (default: "
                                     "uv's choice); the check tests on the same version")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipyard-realrepos-"))
    rows = []
    try:
        for name in args.repos.split(","):
            rows.append(bench_repo(REPOS[name], args.n, args.mirror, work, args.python))
            report(rows[-1:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n## all repositories\n")
    report(rows)


def report(rows: list[Row]) -> None:
    print("| repo | shape | merged commits | blocked | planted caught | tests cold s | "
          "tests warm s, base cached | tests warm s (median) | gates check s (median) | "
          "bare pytest s (median) | warm/bare (median per commit) | same, env reused only |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        blocked = len({b.split()[0] for b in r.blocks})
        warm = statistics.median(r.warm) if r.warm else 0.0
        gates = statistics.median(r.gates) if r.gates else 0.0
        bare = statistics.median(r.bare) if r.bare else 0.0
        ratio = statistics.median(r.ratios) if r.ratios else float("nan")
        kept = [x for x, reused in zip(r.ratios, r.reused, strict=True) if reused]
        warm_ratio = statistics.median(kept) if kept else float("nan")
        print(f"| {r.repo.name} | {r.repo.shape} | {r.commits} | {blocked} | "
              f"{r.caught}/{r.planted} | {r.cold:.1f} | {r.warm[0] if r.warm else 0:.1f} | "
              f"{warm:.1f} | {gates:.1f} | "
              f"{bare:.1f} | {ratio:.1f}× | {warm_ratio:.1f}× ({len(kept)}) |")
    for r in rows:
        for b in r.blocks + r.notes:
            print(f"- {r.repo.name}: {b}")
    for r in rows:
        for t in r.timings:
            print(f"  - {r.repo.name} {t}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
