"""The embedded team ships a small feature: the real 0.5B model, every gate, merged and right.

Slow (a few minutes on 2 cores) and run in CI. The request is the one the embedded team
used to fail at: `sub(a, b)` next to `add`. The merged function is checked by calling
it, not by reading the model's word for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import git

CALC = '''"""Tiny arithmetic helpers."""


def add(a: int, b: int) -> int:
    """Return a + b.

    >>> add(2, 3)
    5
    """
    return a + b
'''


@pytest.mark.slow
def test_the_embedded_team_merges_a_correct_sub(tmp_path: Path, embedded_gguf: Path) -> None:
    repo = tmp_path / "calc"
    (repo / "calc").mkdir(parents=True)
    (repo / "calc" / "__init__.py").write_text('"""calc."""\n')
    (repo / "calc" / "core.py").write_text(CALC)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_core.py").write_text(
        "from calc.core import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0.1.0"\n'
                                         'license = {text = "MIT"}\ndependencies = []\n')
    (repo / "LICENSE").write_text("MIT License\n")
    (repo / "SECURITY.md").write_text("Report issues to security@example.com\n")
    (repo / "shipyard.toml").write_text('[models]\ndefault = "local"\n\n[gates]\nhuman = ["G6"]\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    shipyard = [str(Path(sys.executable).with_name("shipyard"))]
    env = {**os.environ, "SHIPYARD_LOCAL_KEEP_WARM_S": "120"}   # run-feature, then approve

    def cli(*args: str) -> dict:
        proc = subprocess.run([*shipyard, *args, "--repo", str(repo), "--json", "--no-input"],
                              capture_output=True, text=True, env=env, timeout=1500, check=False)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    r = cli("run-feature", "Add a sub(a, b) function to calc/core.py that returns a - b, "
                           "for example sub(5, 3) == 2.")
    assert (r["status"], r["gate"]) == ("waiting", "G6"), r
    r = cli("approve", r["run_id"], "--as", "dri@example.com", "--comment", "go")
    assert r["status"] == "merged", r
    probe = ("from calc.core import sub, add\n"
             "assert [sub(5, 3), sub(0, 7), sub(-2, -2)] == [2, -7, 0]\n"
             "assert add(2, 3) == 5\n")
    check = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert "def add(a: int, b: int) -> int:" in (repo / "calc" / "core.py").read_text()
