"""The work of each gate node. `feature.py` wires these into the graph.

Rules every node keeps (DESIGN invariant 3): a node may be re-run from its
start after a crash or a resume, so side effects are idempotent — files are
rewritten whole, commits are found by their `Shipyard-Step` trailer before a
new one is made, and a step already committed reuses the agent output the
ledger recorded instead of calling the model again. Human gates live in nodes
of their own (`human_gate`) with nothing before `interrupt()` but reads.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from ..errors import RunError
from .nodes_base import DIFF_LIMIT
from .nodes_build import BuildNodes
from .nodes_launch import LaunchNodes
from .nodes_plan import PlanNodes
from .state import FeatureState

__all__ = ["DIFF_LIMIT", "Nodes"]

_REVISE_TARGET = {"G0": "onepager", "G1": "rfc", "G2": "guardrails", "G6": "implement"}


class Nodes(PlanNodes, BuildNodes, LaunchNodes):
    """Every node function of the feature graph, bound to one RunEnv: the stages' nodes
    (nodes_plan, nodes_build, nodes_launch) and the human gates."""

    # -- human gates ------------------------------------------------------------------------
    def human_gate(self, gate: str):
        def node(s: FeatureState) -> dict[str, Any]:
            if not self._needs_human(s, gate):
                return {"last_decision": {"gate": gate, "decision": "approve", "who": "policy",
                                          "comment": "not a human gate under policy"}}
            answer = interrupt(self.gate_payload(s, gate))  # nothing but reads before this line
            decision = self._verified_decision(s, gate, answer)
            update: dict[str, Any] = {"decisions": [decision], "last_decision": decision}
            if decision["decision"] == "revise":
                update["revisions"] = {_REVISE_TARGET.get(gate, "implement"): [decision["comment"]]}
            elif decision["decision"] == "reject":
                update |= {"status": "rejected", "reason": f"rejected at {gate} by "
                           f"{decision['who']}: {decision['comment'] or '(no comment)'}"}
            return update

        node.__name__ = f"{gate.lower()}_gate"
        return node

    def _needs_human(self, s: FeatureState, gate: str) -> bool:
        if gate in self.env.settings.gates.human:
            return True
        if gate == "G2":  # the blueprint: a human decides when a control is missing
            return any(c["status"] != "pass" for c in s.get("guardrails", []))
        return False

    def _verified_decision(self, s: FeatureState, gate: str, answer: Any) -> dict[str, Any]:
        """A gate passes only on an approval recorded in the ledger (DESIGN invariant 2)."""
        approval_id = answer.get("approval_id") if isinstance(answer, dict) else None
        row = self._approval_row(approval_id)
        used = {d.get("approval_id") for d in s.get("decisions", [])}
        if (row is None or row["run_id"] != s["run_id"] or row["gate"] != gate
                or approval_id in used):
            raise RunError(f"resume value for {gate} does not name an unused approval recorded "
                           f"in the ledger; use `shipyard approve|revise|reject {s['run_id']}`.")
        return {"gate": gate, "decision": row["decision"], "who": row["who"],
                "comment": row["comment"] or "", "approval_id": approval_id, "at": row["ts"]}

    def _approval_row(self, approval_id: str | None) -> dict[str, Any] | None:
        return self.env.ledger.get("approvals", approval_id) if approval_id else None

    def gate_payload(self, s: FeatureState, gate: str) -> dict[str, Any]:
        """The decision narrative a human sees at a gate: question, evidence, findings, cost."""
        from .narrative import gate_narrative

        return gate_narrative(s, gate, spent_usd=self.env.ledger.spent_usd(s["run_id"]),
                              budget_usd=self.env.settings.budget.usd)
