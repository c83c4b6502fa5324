"""The real embedded model ships the demo's feature: slugify, merged into main, correct.

Slow (about three minutes on 2 cores) and run in CI. Every human gate is approved through
the CLI, from a new process each time, as a person would; the merged function is then
checked on inputs the pipeline never saw.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo_feature() -> str:
    """`make demo`'s request, read from scripts/demo.py (not imported: it builds a venv)."""
    tree = ast.parse((ROOT / "scripts" / "demo.py").read_text())
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "FEATURE" for t in node.targets))


def _shipyard(*args: str | Path) -> dict:
    shipyard = Path(sys.executable).with_name("shipyard")
    env = {**os.environ, "SHIPYARD_MODEL": "local"}
    proc = subprocess.run([str(shipyard), *map(str, args), "--json"], capture_output=True,
                          text=True, env=env, timeout=900, check=False)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_embedded_team_merges_a_correct_slugify(sample_repo: Path,
                                                     embedded_gguf: Path) -> None:
    out = _shipyard("run-feature", _demo_feature(), "--repo", sample_repo, "--no-input")
    for _ in range(6):
        if out.get("status") != "waiting":
            break
        out = _shipyard("approve", out["run_id"], "--repo", sample_repo, "--as",
                        "maintainer@example.com", "--comment", "looks right")
    assert out.get("status") == "merged", out

    probe = ("import sys; sys.path.insert(0, '.'); from textkit import slugify; "
             "print([slugify(x) for x in ['  Hello, World!  ', 'a--b  c', 'ABC', '', '---', "
             "'x_y.z', '  42 is   the answer!!']])")
    subprocess.run(["git", "-C", str(sample_repo), "checkout", "-q", "main"], check=True)
    got = subprocess.run([sys.executable, "-c", probe], cwd=sample_repo, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert got == str(["hello-world", "a-b-c", "abc", "", "", "x-y-z", "42-is-the-answer"])
