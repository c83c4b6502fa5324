"""G0–G4: the one-pager, the RFC with its threat model and forecast, the guardrails, the
acceptance tests first, the delivery plan."""

from __future__ import annotations

from typing import Any

from ..agents import REVIEWERS, finops, governance, planner, security
from ..agents import artifacts as md
from ..agents.base import AgentTask
from .nodes_base import NodeBase
from .scale import BRIEF, planning_scale
from .state import FeatureState

__all__ = ["PlanNodes"]


class PlanNodes(NodeBase):
    # -- G0 ---------------------------------------------------------------------------------
    def g0_plan(self, s: FeatureState) -> dict[str, Any]:
        gw = self.env.gateway(s["run_id"])
        ctx = self.context(s, "onepager")
        scale, why = planning_scale(s["feature"], self.env.settings.gates.planning)
        self.env.ledger.event(s["run_id"], "planning_scale", gate="G0", scale=scale, reason=why,
                              decided_by="code")
        self.env.say(f"G0: {scale} plan ({why})")
        onepager = planner.ONEPAGER.run(gw, gate="G0", brief=scale == BRIEF, **ctx).model_dump(
            mode="json")
        scope = self._scoping(s, "G0", governance.SCOPE, ctx, brief=scale == BRIEF, notes=(
            "not in AI or privacy scope: the request names no AI, model or personal-data "
            "concern (decided by code for a brief plan)"))
        arts = self.artifact(s, "G0", "one-pager", f"{self.docs_dir(s)}/one-pager.md",
                             md.onepager_md(s["run_id"], s["feature"], onepager, scope))
        return {"onepager": onepager, "scope": scope, "gate": "G0", "artifacts": arts,
                "planning": scale}

    # -- G1 ---------------------------------------------------------------------------------
    def g1_plan(self, s: FeatureState) -> dict[str, Any]:
        gw = self.env.gateway(s["run_id"])
        files = self.files(s)
        rfc = planner.RFC_TASK.run(gw, gate="G1", brief=_brief(s),
                                   **self.context(s, "rfc", files=files)).model_dump(mode="json")
        ctx = self.context(s, "rfc", files=files, rfc=rfc)
        threats = self._scoping(s, "G1", security.THREATS, ctx, brief=_brief(s))
        forecast = self._scoping(s, "G1", finops.FORECAST, ctx, brief=_brief(s),
                                 runtime_cost_impact="none: the request names no model, cloud "
                                                     "or paid-service use (decided by code)")
        # The ADR's number is taken at merge time, against the base as it is then (two runs
        # in flight must not both claim 0001); until then it is a draft in the run's folder.
        adr = f"{self.docs_dir(s)}/adr-draft.md"
        arts = self.artifact(s, "G1", "adr-draft", adr, md.adr_md(None, s["run_id"], rfc, forecast))
        arts |= self.artifact(s, "G1", "threat-model", f"{self.docs_dir(s)}/threat-model.md",
                              md.threats_md(s["run_id"], threats))
        return {"rfc": rfc, "threats": threats, "forecast": forecast, "adr_path": adr,
                "gate": "G1", "artifacts": arts}

    def _scoping(self, s: FeatureState, gate: str, task: AgentTask[Any], ctx: dict[str, Any], *,
                 brief: bool, **decided: Any) -> dict[str, Any]:
        """A risk-scoping output: the agent's, or for a brief plan the one code decides. A
        brief plan's request names no security, data, AI or cost concern (graphs/scale.py),
        so the threat model, AI scope and forecast are recorded as out of scope, with the
        reason, instead of a 0.5B model's boilerplate; G5's Security and Test reviews of
        the actual diff still run."""
        if not brief:
            return task.run(self.env.gateway(s["run_id"]), gate=gate, **ctx).model_dump(mode="json")
        out = task.output.model_validate(decided).model_dump(mode="json")
        self.env.ledger.event(s["run_id"], "scoping_decided_by_code", gate=gate, role=task.role,
                              task=task.task, output=out, reason="brief plan: the request names "
                              "no security, data, AI, cost or operations concern")
        return out

    # -- G2 ---------------------------------------------------------------------------------
    def g2_guardrails(self, s: FeatureState) -> dict[str, Any]:

        base_files = self.env.repo.tracked_files(s["base_sha"])
        results = self.record_checks(s, "G2", [self._tooling(s, base_files)])
        if "hygiene" in self.env.settings.policy.checks:
            results += self.run_checks(s, "G2", only=["hygiene"])
        policy = self.env.settings.policy
        weakened = [c for c in ("tests", "secrets", "sast") if c not in policy.checks
                    or c not in policy.blocking]
        if weakened:  # policy may switch controls off, but a human sees that at G2
            results.append({"name": "policy", "status": "fail", "blocking": True, "findings": [
                {"rule": "policy.weakened", "severity": "high", "path": "shipyard.toml",
                 "line": None, "message": f"core control(s) {weakened} do not run or do not "
                                          f"block under [policy]"}],
                "evidence": [], "duration_s": 0.0})
        tests = [f for f in base_files if f.endswith(".py") and "test" in f.rsplit("/", 1)[-1]]
        if not tests:
            results.append({"name": "has-tests", "status": "fail", "blocking": True,
                            "findings": [{"rule": "no-tests", "severity": "high", "path": None,
                                          "line": None, "message": "the repository has no tests"}],
                            "evidence": [], "duration_s": 0.0})
        return {"guardrails": results, "gate": "G2"}

    def _tooling(self, s: FeatureState, base_files: list[str]) -> dict[str, Any]:
        """Tooling status; a missing advisory database only matters when something is pinned
        (deps matches pinned versions only, and passes without a database otherwise)."""
        from ..runtime.checks import tooling_status
        from ..runtime.checks._util import declared_dependencies

        result = tooling_status(self.env.settings.policy).to_dict()
        repo = self.env.repo

        def read(path: str) -> str | None:
            text = repo.run("show", f"{s['base_sha']}:{path}", check=False)
            return text or None

        pinned = [d for d in declared_dependencies(read, base_files) if d.pinned]
        if not pinned:
            result["findings"] = [f for f in result["findings"]
                                  if f["rule"] != "tooling.advisories"]
            if not result["findings"]:
                result["status"] = "pass"
        return result

    # -- G3 ---------------------------------------------------------------------------------
    def g3_tests(self, s: FeatureState) -> dict[str, Any]:
        """Acceptance cases first: examples from the request and docstrings (by code) and the
        Test Engineer's proposed cases, as one pytest file committed before any code."""
        from .acceptance import acceptance, test_file
        from .context import relevant_files

        ws = self.env.workspace(s)
        acc = acceptance(self, s, relevant_files(self, s))
        refusals: list[str] = []
        if acc["cases"]:
            result = ws.apply([(acc["path"], test_file(ws.path, s, acc))])
            refusals = self.log_refusals(s, "G3", result.refused)
        self.env.ledger.event(s["run_id"], "acceptance_cases", gate="G3", path=acc["path"],
                              cases=acc["cases"], imports=acc["imports"])
        self.env.say(f"G3: {len(acc['cases'])} acceptance case(s) "
                     f"({sum(c['source'] != 'proposed' for c in acc['cases'])} from examples)")
        arts = self.artifact(s, "G3", "test-plan", f"{self.docs_dir(s)}/test-plan.md",
                             md.test_plan_md(s["run_id"], acc["plan"], acc["cases"]))
        head = ws.commit_step("g3-tests",
                              f"test: acceptance tests and plan for {s['onepager']['title']}")
        return {"test_plan": acc["plan"], "acceptance": acc, "head": head, "gate": "G3",
                "artifacts": arts, "refusals": refusals}
    # -- G4 ---------------------------------------------------------------------------------
    def g4_plan(self, s: FeatureState) -> dict[str, Any]:
        gw = self.env.gateway(s["run_id"])
        plan = planner.DELIVERY.run(gw, gate="G4", brief=_brief(s),
                                    **self.context(s, "delivery")).model_dump(mode="json")
        arts = self.artifact(s, "G4", "delivery-plan", f"{self.docs_dir(s)}/delivery-plan.md",
                             md.delivery_md(s["run_id"], plan))
        update: dict[str, Any] = {"delivery": plan, "gate": "G4", "artifacts": arts}
        verdict = self._budget_forecast(s)
        if verdict:
            update |= {"status": "failed", "reason": verdict}
        return update

    def _budget_forecast(self, s: FeatureState) -> str | None:
        """FinOps guardrail: fail before building when the forecast exceeds the budget."""
        budget = self.env.settings.budget.usd
        if budget <= 0:
            return None
        ledger, run_id = self.env.ledger, s["run_id"]
        spent = ledger.spent_usd(run_id)
        calls = max(1, ledger.count("llm_calls", run_id=run_id, where="error IS NULL"))
        remaining_calls = (1 + len(REVIEWERS)) * (self.env.settings.gates.max_fix_rounds + 1) + 1
        forecast = spent + spent / calls * remaining_calls
        ledger.event(run_id, "cost_forecast", gate="G4", spent_usd=spent, forecast_usd=forecast,
                     budget_usd=budget)
        if forecast > budget:
            return (f"G4 FinOps: forecast ${forecast:.4f} exceeds the ${budget:.2f} budget "
                    f"(spent ${spent:.4f} so far); raise [budget] usd or use a cheaper model")
        return None


def _brief(s: FeatureState) -> bool:
    """Whether G0 decided this request gets the brief plan (graphs/scale.py)."""
    return s.get("planning") == BRIEF
