"""The feature graph: G0–G8 wired as a LangGraph StateGraph.

    G0 plan ─ G0 gate ─ G1 plan ─ G1 gate ─ G2 guardrails ─ G2 gate ─ G3 tests ─ G4 plan
      ─ G5 implement ─ G5 checks ─(Send ×6)─ review ─ G5 decide ─┬─ G6 harden ─ G6 gate ─ G7 launch ─ G8
            ^    (inner loop)  └─── not green ──────────────────→│
            └──────────────── block, rounds left ────────────────┘

`build_feature_graph(env)` returns the uncompiled builder; the caller compiles
it with the checkpointer it chose (SQLite here, PostgreSQL on a server).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from langgraph.errors import GraphInterrupt
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from ..agents import REVIEWERS
from ..runtime import metrics
from ..runtime.telemetry import node_span
from .env import RunEnv
from .nodes import Nodes
from .state import FeatureState

__all__ = ["HUMAN_GATE_NODES", "NODE_STEPS", "build_feature_graph"]

HUMAN_GATE_NODES = {"g0_gate": "G0", "g1_gate": "G1", "g2_gate": "G2", "g6_gate": "G6"}
# node -> (gate, what it does in plain words): how `status` names a step that failed
NODE_STEPS: dict[str, tuple[str, str]] = {
    "g0_plan": ("G0", "the one-pager and AI/privacy scope (Planner, Governance)"),
    "g1_plan": ("G1", "the RFC, threat model and cost forecast (Planner, Security, FinOps)"),
    "g2_guardrails": ("G2", "the guardrail checks"),
    "g3_tests": ("G3", "the test plan and acceptance tests (Test Engineer)"),
    "g4_plan": ("G4", "the delivery plan (Planner)"),
    "g5_implement": ("G5", "the implementation (Implementer)"),
    "g5_checks": ("G5", "the checks on the diff"),
    "review": ("G5", "the reviews (Security, Test, SRE, Governance, FinOps, Docs)"),
    "g5_decide": ("G5", "the G5 decision"),
    "g6_harden": ("G6", "the final scans"),
    "g7_launch": ("G7", "the merge, release notes and provenance"),
    "g8_learn": ("G8", "the DORA and cost records"),
    **{node: (gate, f"the {gate} decision") for node, gate in HUMAN_GATE_NODES.items()},
}


def _after_gate(on_approve: str, on_revise: str):
    def route(s: FeatureState) -> str:
        decision = (s.get("last_decision") or {}).get("decision")
        if decision == "reject":
            return "g8_learn"
        if decision == "revise":
            return on_revise
        return on_approve

    return route


def _unless_failed(next_node: str):
    def route(s: FeatureState) -> str:
        return "g8_learn" if s.get("status") == "failed" else next_node

    return route


def _fan_out_reviews(s: FeatureState) -> list[Send]:
    return [Send("review", {**s, "review_role": role}) for role in REVIEWERS]


def _after_implement(s: FeatureState) -> str:
    """Only a green candidate is checked and reviewed; otherwise straight to the decision."""
    return "g5_checks" if (s.get("inner") or {}).get("green", True) else "g5_decide"


def _after_decide(s: FeatureState) -> str:
    return {"pass": "g6_harden", "block": "g5_implement"}.get(s.get("g5_verdict", ""), "g8_learn")


def _traced(name: str, fn: Callable[[FeatureState], dict[str, Any]]):
    """Run a node inside its span (`shipyard.node NAME`): duration, gate and verdict go to the
    trace and the metrics. A human gate's interrupt is a pause, not an error."""
    gate = NODE_STEPS.get(name, (None, ""))[0]

    @functools.wraps(fn)
    def node(s: FeatureState) -> dict[str, Any]:
        with node_span(name, run_id=s.get("run_id", ""), gate=gate) as span:
            try:
                update = fn(s)
            except GraphInterrupt:
                span.paused()
                raise
            verdict = _verdict(name, update)
            if verdict and gate:
                span.set_attributes({"shipyard.verdict": verdict})
                metrics.record_verdict(gate=gate, verdict=verdict)
            return update

    return node


def _verdict(name: str, update: Any) -> str | None:
    if not isinstance(update, dict):
        return None
    if name in HUMAN_GATE_NODES:
        return (update.get("last_decision") or {}).get("decision")
    if name == "g5_decide":
        return update.get("g5_verdict")
    return None


def build_feature_graph(env: RunEnv) -> StateGraph:
    n = Nodes(env)
    g: StateGraph[Any] = StateGraph(FeatureState)

    def add(name: str, fn: Callable[[FeatureState], dict[str, Any]]) -> None:
        g.add_node(name, _traced(name, fn))

    add("g0_plan", n.g0_plan)
    add("g1_plan", n.g1_plan)
    add("g2_guardrails", n.g2_guardrails)
    add("g3_tests", n.g3_tests)
    add("g4_plan", n.g4_plan)
    add("g5_implement", n.g5_implement)
    add("g5_checks", n.g5_checks)
    add("review", n.review)
    add("g5_decide", n.g5_decide)
    add("g6_harden", n.g6_harden)
    add("g7_launch", n.g7_launch)
    add("g8_learn", n.g8_learn)
    for node, gate in HUMAN_GATE_NODES.items():
        add(node, n.human_gate(gate))

    g.add_edge(START, "g0_plan")
    g.add_edge("g0_plan", "g0_gate")
    g.add_conditional_edges("g0_gate", _after_gate("g1_plan", "g0_plan"),
                            ["g1_plan", "g0_plan", "g8_learn"])
    g.add_edge("g1_plan", "g1_gate")
    g.add_conditional_edges("g1_gate", _after_gate("g2_guardrails", "g1_plan"),
                            ["g2_guardrails", "g1_plan", "g8_learn"])
    g.add_edge("g2_guardrails", "g2_gate")
    g.add_conditional_edges("g2_gate", _after_gate("g3_tests", "g2_guardrails"),
                            ["g3_tests", "g2_guardrails", "g8_learn"])
    g.add_edge("g3_tests", "g4_plan")
    g.add_conditional_edges("g4_plan", _unless_failed("g5_implement"), ["g5_implement", "g8_learn"])
    g.add_conditional_edges("g5_implement", _after_implement, ["g5_checks", "g5_decide"])
    g.add_conditional_edges("g5_checks", _fan_out_reviews, ["review"])
    g.add_edge("review", "g5_decide")
    g.add_conditional_edges("g5_decide", _after_decide, ["g6_harden", "g5_implement", "g8_learn"])
    g.add_conditional_edges("g6_harden", _unless_failed("g6_gate"), ["g6_gate", "g8_learn"])
    g.add_conditional_edges("g6_gate", _after_gate("g7_launch", "g5_implement"),
                            ["g7_launch", "g5_implement", "g8_learn"])
    g.add_edge("g7_launch", "g8_learn")
    g.add_edge("g8_learn", END)
    return g
