"""What every node shares: the run's context for prompts, artifacts, ledger rows, checks.

The node functions themselves live by stage (nodes_plan, nodes_build, nodes_launch);
`nodes.Nodes` puts them together with the human gates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..agents.examples import FIXED_PART
from .env import RunEnv
from .state import FeatureState

__all__ = ["DIFF_LIMIT", "NodeBase", "checks_summary", "now"]

DIFF_LIMIT = 12_000        # characters of diff shown to a reviewer (8k-token local model)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class NodeBase:
    """Helpers bound to one RunEnv."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env

    # -- helpers ----------------------------------------------------------------------------
    def docs_dir(self, s: FeatureState) -> str:
        return f"docs/shipyard/{s['run_id']}"

    def context(self, s: FeatureState, stage: str, *, files: list[str] | None = None,
                **extra: Any) -> dict[str, Any]:
        """Everything a prompt template may use; StrictUndefined catches typos in templates."""
        if files is None:
            files = self.files(s)
        ctx = {
            "feature": s["feature"],
            "revisions": list((s.get("revisions") or {}).get(stage, [])),
            "repo_files": [f for f in files if not f.startswith("docs/shipyard/")][:200],
            "test_files": [f for f in files if "test" in f.rsplit("/", 1)[-1]][:50],
            "onepager": s.get("onepager") or {},
            "rfc": s.get("rfc") or {},
            "test_plan": s.get("test_plan") or {},
            "delivery": s.get("delivery") or {},
            "spent_usd": self.env.ledger.spent_usd(s["run_id"]),
            "budget_usd": self.env.settings.budget.usd,
        }
        ctx.update(extra)
        return ctx

    def files(self, s: FeatureState) -> list[str]:
        return self.env.workspace(s).git.tracked_files("HEAD")

    def artifact(self, s: FeatureState, gate: str, kind: str, rel: str, text: str) -> dict[str, str]:
        """Write an artifact into the worktree and record its digest."""
        self.env.workspace(s).write_doc(rel, text)
        return self.record_artifact(s, gate, kind, rel, text)

    def record_artifact(self, s: FeatureState, gate: str, kind: str, rel: str,
                        text: str) -> dict[str, str]:
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.env.ledger.append("artifacts", run_id=s["run_id"], gate=gate, kind=kind, path=rel,
                               sha256=digest)
        return {rel: digest}

    def recorded_output(self, s: FeatureState, agent: str, task: str) -> dict[str, Any] | None:
        """The last validated output of (agent, task) in this run, from the ledger."""
        rows = self.env.ledger.rows("llm_calls", run_id=s["run_id"],
                                    where="agent = ? AND task = ? AND parsed IS NOT NULL",
                                    params=[agent, task])
        return json.loads(rows[-1]["parsed"]) if rows else None

    def record_checks(self, s: FeatureState, gate: str,
                      results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """One tool_runs row per check result (as `CheckResult.to_dict()`)."""
        out = []
        for d in results:
            self.env.ledger.append("tool_runs", run_id=s["run_id"], gate=gate, name=d["name"],
                                   status=d["status"], blocking=d["blocking"],
                                   findings=d["findings"], evidence=d["evidence"],
                                   duration_s=d["duration_s"], summary=d.get("summary", ""),
                                   command=f"check:{d['name']}")
            out.append(d)
        return out

    def evidence_dir(self, s: FeatureState, gate: str) -> Path:
        return self.env.root / ".shipyard" / "runs" / s["run_id"] / f"evidence-{gate.lower()}"

    def run_checks(self, s: FeatureState, gate: str, *, only: list[str] | None = None) -> list[dict]:
        from ..runtime.checks import run_checks

        if not (only or self.env.settings.policy.checks):
            return []  # the policy runs no checks
        ws = self.env.workspace(s)
        self.env.say(f"{gate}: running checks {', '.join(only or self.env.settings.policy.checks)}")
        report = run_checks(ws.path, s["base_sha"], ws.head(), self.env.settings.policy, only=only,
                            evidence_dir=self.evidence_dir(s, gate))
        return self.record_checks(s, gate, (c.to_dict() for c in report.checks))

    def log_refusals(self, s: FeatureState, gate: str, refused: tuple) -> list[str]:
        out = []
        for path, why in refused:
            self.env.ledger.event(s["run_id"], "write_refused", gate=gate, path=path, why=why)
            self.env.say(f"{gate}: refused write to {path!r}: {why}")
            out.append(f"write to {path!r} refused: {why}")
        return out
    def code_diff(self, s: FeatureState, head: str) -> str:
        """The change as reviewers and the Docs agent read it: without shipyard's own
        planning documents (they are not the change, and every token costs)."""
        diff = self.env.workspace(s).git.run("diff", "--no-color", "--no-ext-diff", s["base_sha"],
                                             head, "--", ".", ":(exclude)docs/shipyard",
                                             check=False)
        tests = (s.get("acceptance") or {}).get("path")
        if tests:
            diff = without_fixed_part(diff, tests)
        if len(diff) > DIFF_LIMIT:
            diff = diff[:DIFF_LIMIT] + f"\n... [diff truncated: {len(diff)} characters in all]"
        return diff


def without_fixed_part(diff: str, path: str) -> str:
    """`diff` with the fixed end of the new acceptance test file at `path` left out: the
    comparison helpers and test function shipyard writes the same in every run, a third of
    a review's prompt (~550 tokens at ~12.5 ms each) that no reviewer needs. The cases
    stay; the hunk header counts only the lines shown and says what follows."""
    out: list[str] = []
    header: int | None = None  # index in `out` of the new file's hunk header
    active = False             # inside that hunk
    closed = False             # past the `]` closing CASES (ruff-formatted: column 0)
    shown = hidden = 0
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git "):
            active = False
        elif line.startswith("@@ -0,0 +1,") and out and out[-1].rstrip() == f"+++ b/{path}":
            header, active = len(out), True
        elif active and line.startswith("+"):
            if hidden or (closed and line[1:].startswith(FIXED_PART)):
                hidden += 1
                continue
            closed = closed or line.rstrip() == "+]"
            shown += 1
        out.append(line)
    if header is None or not hidden:
        return diff
    out[header] = (f"@@ -0,0 +1,{shown} @@ lines {shown + 1}-{shown + hidden} not shown: "
                   f"shipyard's fixed comparison helpers and test_acceptance()\n")
    return "".join(out)


def checks_summary(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "(no tool checks ran)"
    lines = []
    for c in checks:
        lines.append(f"- {c['name']}: {c['status']}{' (blocking)' if c['blocking'] else ''}")
        for f in c.get("findings", [])[:5]:
            where = f"{f['path']}:{f['line']} " if f.get("path") else ""
            lines.append(f"    - [{f['severity']}] {where}{f['rule']}: {f['message'][:200]}")
    return "\n".join(lines)


