"""The real embedded model drives run-feature on the sample app to its first human gate.

Slow (about a minute on 2 cores) and run in CI: it proves the offline default
works end to end and that the ledger records what the model was really asked.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .test_local_model import _gone

FEATURE = ("Add a slugify(text) helper to textkit/strings.py that lowercases the text and "
           "joins its words with hyphens. Export it from textkit/__init__.py.")


@pytest.mark.slow
def test_local_model_drives_run_feature_to_the_first_human_gate(
        sample_repo: Path, embedded_gguf: Path) -> None:
    shipyard = Path(sys.executable).with_name("shipyard")
    env = {**os.environ, "SHIPYARD_MODEL": "local"}
    proc = subprocess.run([str(shipyard), "run-feature", FEATURE, "--repo", str(sample_repo),
                           "--json", "--no-input"], capture_output=True, text=True, env=env,
                          timeout=900, check=False)
    assert proc.returncode == 3, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "waiting" and outcome["gate"] == "G0"

    # The CLI has exited: the server it started must be gone with it.
    pids = [int(p) for p in re.findall(r"server ready in [\d.]+s \(pid (\d+)\)", proc.stderr)]
    assert pids, proc.stderr[-2000:]
    assert all(_gone(pid, within=10) for pid in pids)

    rows = _llm_calls(sample_repo / ".shipyard" / "ledger.db", outcome["run_id"])
    assert rows, "no model call was recorded"
    for row in rows:
        assert "qwen2.5-coder-0.5b-instruct" in row["model"].lower()
        messages = json.loads(row["messages"])
        assert messages[0]["role"] == "system" and len(messages[0]["content"]) > 100
        params = json.loads(row["params"])
        rf = params.get("response_format") or {"type": params.get("structured"),
                                               "schema": params.get("schema")}
        assert rf["type"] == "json_object" and rf["schema"], params  # grammar-constrained
        assert params.get("max_tokens")
    planner = [r for r in rows if r["agent"] == "planner"]
    assert planner, [r["agent"] for r in rows]
    assert any("slugify" in m["content"] for m in json.loads(planner[0]["messages"]))
    ok = [r for r in rows if not r["error"]]
    assert ok and all(r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in ok)
    assert all(r["response"] for r in ok)


def _llm_calls(db_path: Path, run_id: str) -> list[dict]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            "SELECT * FROM llm_calls WHERE run_id = ? ORDER BY seq", (run_id,))]
    finally:
        db.close()
