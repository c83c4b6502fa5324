"""Benchmark: a full `gates check` on examples/sample-app, parallel versus serial, same run.

    .venv/bin/python benchmarks/gates.py [--rounds 2]

The sample app is copied to a temp dir and `git init`ed; a base commit and a
small head change (a new function and its test) are made; an advisory database
is built from tests/fixtures/osv (or the pypa snapshot when present). Each round
runs every check in parallel and then serially (alternating which goes first),
and the script prints wall time per check and the parallel/serial ratio
(target: <= 0.6 on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _git import first_commit, git

from shipyard.runtime.advisories import AdvisoryDB, import_path
from shipyard.runtime.checks import ALL_CHECKS, CheckPolicy, GateReport, run_checks

SAMPLE = ROOT / "examples" / "sample-app"
SNAPSHOT = Path("/work/shared/advisory-database/vulns")

CHANGE = '''

def ratio(part: float, whole: float) -> float:
    """`part` divided by `whole`; raises ValueError when `whole` is zero."""
    if whole == 0:
        raise ValueError("whole must not be zero")
    return part / whole
'''

CHANGE_TEST = '''\
import pytest

from textkit.numbers import ratio


def test_ratio():
    assert ratio(1, 4) == 0.25


def test_ratio_of_zero_whole():
    with pytest.raises(ValueError):
        ratio(1, 0)
'''


def make_repo(tmp: Path) -> tuple[Path, str]:
    if not SAMPLE.is_dir():
        raise SystemExit(f"{SAMPLE} is missing; the benchmark runs on the sample app")
    repo = tmp / "sample-app"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    base = first_commit(repo)
    numbers = repo / "textkit" / "numbers.py"
    numbers.write_text(numbers.read_text() + CHANGE)
    (repo / "tests" / "test_ratio.py").write_text(CHANGE_TEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add ratio")
    return repo, base


def timed(repo: Path, base: str, policy: CheckPolicy, *, parallel: bool) -> tuple[float, GateReport]:
    started = time.perf_counter()
    report = run_checks(repo, base, "HEAD", policy, parallel=parallel)
    return time.perf_counter() - started, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        repo, base = make_repo(Path(tmp))
        db = AdvisoryDB(Path(tmp) / "advisories.db")
        src = SNAPSHOT if SNAPSHOT.is_dir() else ROOT / "tests" / "fixtures" / "osv"
        n = import_path(db, src)
        policy = CheckPolicy(advisories_db=str(db.path))
        timed(repo, base, policy, parallel=True)  # warm-up: imports, disk cache
        par, ser, per_check = [], [], {c: [] for c in ALL_CHECKS}
        for i in range(args.rounds):
            order = (True, False) if i % 2 == 0 else (False, True)
            for parallel in order:
                wall, report = timed(repo, base, policy, parallel=parallel)
                (par if parallel else ser).append(wall)
                if not parallel:
                    for c in report.checks:
                        per_check[c.name].append(c.duration_s)
        statuses = {c.name: c.status for c in report.checks}
    print(f"sample app: {SAMPLE.relative_to(ROOT)}  cores: {os.cpu_count()}  "
          f"advisories: {n} from {src}  rounds: {args.rounds}")
    print(f"{'check':<10} {'serial s':>9}  status")
    for name, times in per_check.items():
        print(f"{name:<10} {statistics.median(times):>9.2f}  {statuses[name]}")
    p, s = statistics.median(par), statistics.median(ser)
    print(f"{'parallel':<10} {p:>9.2f}")
    print(f"{'serial':<10} {s:>9.2f}")
    print(f"ratio parallel/serial = {p / s:.2f} (target <= 0.60)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
