"""Benchmark shipyard's own overhead (issue 2). Not part of the test suite.

    python benchmarks/overhead.py [--runs 3]

(a) a full run (G0→G8, merge) with a zero-latency scripted model and no tool
    checks, per node, versus a bare LangGraph graph of the same shape with the same
    SQLite checkpointer and durability — target ≤ 1.5×;
(b) ledger appends per second with the hash chain — target ≥ 2,000/s;
(c) `shipyard --help` wall time versus `python -c pass` — target < 0.4 s.
Every ratio is against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, TypedDict

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _repo(tmp: Path) -> Path:
    from conftest import DEFAULT_REPLIES, make_calc_repo

    script = tmp / "script.yaml"
    script.write_text(yaml.safe_dump({"replies": copy.deepcopy(DEFAULT_REPLIES)}))
    toml = (f'[models]\ndefault = "scripted:{script}"\n[gates]\nhuman = ["G6"]\n'
            f'[policy]\nchecks = []\n')
    return make_calc_repo(tmp / "repo", toml=toml)


_SUBPROCESS_S = 0.0


def _count_subprocess_time() -> None:
    """Accumulate the wall time spent waiting on subprocesses (git, tools)."""
    import subprocess as sp

    original = sp.Popen.communicate

    def timed(self, *a, **kw):  # type: ignore[no-untyped-def]
        global _SUBPROCESS_S
        start = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            _SUBPROCESS_S += time.perf_counter() - start

    sp.Popen.communicate = timed  # type: ignore[method-assign]


def shipyard_run(tmp: Path) -> tuple[float, int, float]:
    """Seconds for one full run to merge, node executions, seconds inside subprocesses."""
    global _SUBPROCESS_S
    from shipyard.runner import Runner

    repo = _repo(tmp)
    nodes = 0

    def count(msg: str) -> None:
        nonlocal nodes
        nodes += msg.startswith("✓ ")

    runner = Runner(repo, progress=count)
    _ = runner.graph  # compile outside the timed region, as the bare graph does
    _SUBPROCESS_S = 0.0
    start = time.perf_counter()
    out = runner.start("Add multiply")
    pauses = 0
    while out.status == "waiting":  # G2 (no checks = weakened policy) and G6
        pauses += 1
        out = runner.decide(out.run_id, "approve", comment="bench", who="bench")
    elapsed = time.perf_counter() - start
    assert out.status == "merged", out
    return elapsed, nodes + pauses, _SUBPROCESS_S  # + the gate nodes that interrupted


def _merge(a: dict | None, b: dict | None) -> dict:
    return {**(a or {}), **(b or {})}


class BareState(TypedDict, total=False):
    x: int
    reviews: Annotated[dict, _merge]


def bare_run(tmp: Path) -> tuple[float, int]:
    """The same topology as the feature graph with no-op nodes, same checkpointer."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, Send, interrupt

    g = StateGraph(BareState)
    chain = ["g0_plan", "g0_gate", "g1_plan", "g1_gate", "g2_guardrails", "g2_gate", "g3_tests",
             "g4_plan", "g5_implement", "g5_checks"]
    for n in chain + ["g5_decide", "g6_harden", "g7_launch", "g8_learn"]:
        g.add_node(n, lambda s: {"x": 1})
    g.add_node("review", lambda s: {"reviews": {s["role"]: 1}})
    g.add_node("g6_gate", lambda s: {"x": interrupt({"gate": "G6"})})
    g.add_edge(START, chain[0])
    for a, b in itertools.pairwise(chain):
        g.add_edge(a, b)
    g.add_conditional_edges("g5_checks", lambda s: [Send("review", {"role": r}) for r in
                                                    ("security", "test", "sre", "governance",
                                                     "finops", "docs")], ["review"])
    for a, b in (("review", "g5_decide"), ("g5_decide", "g6_harden"), ("g6_harden", "g6_gate"),
                 ("g6_gate", "g7_launch"), ("g7_launch", "g8_learn"), ("g8_learn", END)):
        g.add_edge(a, b)
    conn = sqlite3.connect(str(tmp / "bare.db"), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    graph = g.compile(checkpointer=SqliteSaver(conn))
    cfg = {"configurable": {"thread_id": "t"}}
    nodes = 0
    start = time.perf_counter()
    for inp in ({"x": 0}, Command(resume=1)):
        for upd in graph.stream(inp, cfg, stream_mode="updates", durability="sync"):
            nodes += len(upd)
    return time.perf_counter() - start, nodes


def ledger_rate(tmp: Path, n: int = 5000) -> tuple[float, float]:
    """Appends/s with the hash chain, versus plain sqlite3 inserts in the same WAL mode."""
    from shipyard.runtime.ledger import Ledger

    ledger = Ledger(tmp / "ledger.db")
    start = time.perf_counter()
    for i in range(n):
        ledger.event("bench", "tick", i=i, note="a typical small event row")
    chained = n / (time.perf_counter() - start)
    conn = sqlite3.connect(str(tmp / "plain.db"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("create table t (id integer primary key, data text)")
    start = time.perf_counter()
    for i in range(n):
        with conn:
            conn.execute("insert into t (data) values (?)", [f'{{"i":{i}}}'])
    plain = n / (time.perf_counter() - start)
    return chained, plain


def _wall(cmd: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SHIPYARD_HOME", tempfile.mkdtemp(prefix="shipyard-bench-home-"))
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        os.environ.setdefault(key, "bench")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        os.environ.setdefault(key, "bench@example.com")

    _count_subprocess_time()
    ship, bare, python_side, git_calls = [], [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            t, n, sub = shipyard_run(Path(d))
            ship.append(t / n)
            python_side.append((t - sub) / n)
            git_calls.append(sub / n)
        with tempfile.TemporaryDirectory() as d:
            t, nb = bare_run(Path(d))
            bare.append(t / nb)
    s_node, b_node = statistics.median(ship), statistics.median(bare)
    print(f"(a) per-node time: shipyard {s_node * 1000:.1f} ms ({n} nodes), bare LangGraph "
          f"{b_node * 1000:.2f} ms ({nb} nodes); ratio {s_node / b_node:.1f}x "
          f"(target <= 1.5x)")
    p_node, g_node = statistics.median(python_side), statistics.median(git_calls)
    print(f"    of which waiting on real git subprocesses {g_node * 1000:.1f} ms/node; "
          f"in-process (LangGraph + ledger + gateway + prompts) {p_node * 1000:.1f} ms/node, "
          f"ratio {p_node / b_node:.1f}x vs bare")

    with tempfile.TemporaryDirectory() as d:
        chained, plain = ledger_rate(Path(d))
    print(f"(b) ledger appends: {chained:,.0f}/s with hash chain vs {plain:,.0f}/s plain "
          f"sqlite3 inserts; ratio {chained / plain:.2f} (target >= 2,000/s)")

    exe = str(Path(sys.executable).parent / "shipyard")
    base = _wall([sys.executable, "-c", "pass"])
    helptime = _wall([exe, "--help"])
    print(f"(c) `shipyard --help` {helptime:.3f} s vs `python -c pass` {base:.3f} s; "
          f"ratio {helptime / base:.1f}x (target < 0.4 s absolute)")


if __name__ == "__main__":
    main()
