"""Does a check's cost grow with the diff or with the repository? (issue 9, item 5)

    .venv/bin/python benchmarks/large_repo.py [--small 100] [--large 2000] [--rounds 2]

Two generated repositories of the same shape — one package of N modules of ~40 lines each
(functions, a class, imports between modules), one test file — differ only in N. In each,
the same one-line change (a constant in one module, which the test reads) is checked with
every check, first cold (a new environment cache) and then warm, `rounds` times. Printed:
each check's median warm time in both repositories and the large/small ratio (1.0× means
the check's cost does not grow with the repository's size). The repositories are made
here, not fetched: what is compared is size alone, with nothing else changing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _git import first_commit, git

from shipyard.runtime.checks import ALL_CHECKS, CheckPolicy, run_checks

MODULE = '''"""Module {i} of a generated package."""

from __future__ import annotations

from pkg import m{prev} as previous

LIMIT = {i}


def scale_{i}(values: list[int], factor: int = 2) -> list[int]:
    """Each value times `factor`, capped at LIMIT."""
    return [min(v * factor, LIMIT) for v in values]


def describe_{i}(name: str) -> str:
    """A label for `name`."""
    if not name:
        raise ValueError("name must not be empty")
    return f"{{name}}-{i}"


class Counter{i}:
    """Counts what it is given."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {{}}

    def add(self, key: str) -> int:
        self.seen[key] = self.seen.get(key, 0) + 1
        return self.seen[key]

    def total(self) -> int:
        return sum(self.seen.values())


def chain_{i}() -> int:
    return previous.LIMIT + LIMIT
'''

TEST = '''from pkg import m1


def test_limit_and_scale():
    assert m1.LIMIT == 1
    assert m1.scale_1([1, 5]) == [1, 1]
    c = m1.Counter1()
    c.add("a")
    assert c.total() == 1
'''


def make_repo(root: Path, n: int) -> tuple[Path, str, str]:
    """A repository of `n` modules; returns (path, base, head) for a one-line change."""
    repo = root / f"repo-{n}"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pkg" / "__init__.py").write_text('"""A generated package."""\n')
    for i in range(n):
        (repo / "pkg" / f"m{i}.py").write_text(MODULE.format(i=i, prev=max(i - 1, 0)))
    (repo / "tests" / "test_pkg.py").write_text(TEST)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"'
        '\n\n[project]\nname = "pkg"\nversion = "0.1.0"\nlicense = {text = "MIT"}\n'
        'dependencies = []\n\n[tool.setuptools]\npackages = ["pkg"]\n')
    (repo / "LICENSE").write_text("MIT License\n")
    (repo / "SECURITY.md").write_text("Report issues to security@example.com\n")
    base = first_commit(repo)
    one = repo / "pkg" / "m2.py"
    one.write_text(one.read_text().replace("LIMIT = 2\n", "LIMIT = 3\n"))
    git(repo, "commit", "-qam", "one line")
    return repo, base, git(repo, "rev-parse", "HEAD")


def measure(repo: Path, base: str, head: str, rounds: int) -> dict[str, float]:
    """Median warm seconds per check (and `all`, the whole gates check) over `rounds`."""
    policy = CheckPolicy()
    run_checks(repo, base, head, policy)  # cold: environment, wheels, base coverage
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        started = time.perf_counter()
        report = run_checks(repo, base, head, policy)
        times.setdefault("all", []).append(time.perf_counter() - started)
        for c in report.checks:
            times.setdefault(c.name, []).append(c.duration_s)
            if c.blocks:
                print(f"  {repo.name}: {c.name} blocks: "
                      f"{c.findings[0].message[:120] if c.findings else c.summary}")
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", type=int, default=100, help="modules in the small repository")
    ap.add_argument("--large", type=int, default=2000, help="modules in the large repository")
    ap.add_argument("--rounds", type=int, default=2, help="warm checks per repository")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipyard-large-"))
    os.environ.setdefault("SHIPYARD_ENVS_DIR", str(work / "envs"))
    results = {}
    for n in (args.small, args.large):
        repo, base, head = make_repo(work, n)
        files = len(git(repo, "ls-files").splitlines())
        print(f"{repo.name}: {files} files, a one-line change; checking …", flush=True)
        results[n] = measure(repo, base, head, args.rounds)
    small, large = results[args.small], results[args.large]
    print(f"\n| check | {args.small} modules s | {args.large} modules s | large/small |")
    print("|---|---|---|---|")
    for name in [*[c for c in ALL_CHECKS if c in small], "all"]:
        if name in small and name in large:
            ratio = large[name] / small[name] if small[name] > 0 else float("nan")
            print(f"| {name} | {small[name]:.2f} | {large[name]:.2f} | {ratio:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
