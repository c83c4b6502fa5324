"""The work of each gate node. `feature.py` wires these into the graph.

Rules every node keeps (DESIGN invariant 3): a node may be re-run from its
start after a crash or a resume, so side effects are idempotent — files are
rewritten whole, commits are found by their `Shipyard-Step` trailer before a
new one is made, and a step already committed reuses the agent output the
ledger recorded instead of calling the model again. Human gates live in nodes
of their own (`human_gate`) with nothing before `interrupt()` but reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.types import interrupt

from ..agents import (
    REVIEWERS,
    docs,
    finops,
    governance,
    planner,
    security,
)
from ..agents import artifacts as md
from ..errors import RunError
from .env import RunEnv
from .review import block_reasons
from .scale import BRIEF, planning_scale
from .state import FeatureState

__all__ = ["DIFF_LIMIT", "Nodes"]

DIFF_LIMIT = 12_000        # characters of diff shown to a reviewer (8k-token local model)
_REVISE_TARGET = {"G0": "onepager", "G1": "rfc", "G2": "guardrails", "G6": "implement"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Nodes:
    """Node functions bound to one RunEnv."""

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
        scope = governance.SCOPE.run(gw, gate="G0", **ctx).model_dump(mode="json")
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
        threats = security.THREATS.run(gw, gate="G1", **ctx).model_dump(mode="json")
        forecast = finops.FORECAST.run(gw, gate="G1", **ctx).model_dump(mode="json")
        # The ADR's number is taken at merge time, against the base as it is then (two runs
        # in flight must not both claim 0001); until then it is a draft in the run's folder.
        adr = f"{self.docs_dir(s)}/adr-draft.md"
        arts = self.artifact(s, "G1", "adr-draft", adr, md.adr_md(None, s["run_id"], rfc, forecast))
        arts |= self.artifact(s, "G1", "threat-model", f"{self.docs_dir(s)}/threat-model.md",
                              md.threats_md(s["run_id"], threats))
        return {"rfc": rfc, "threats": threats, "forecast": forecast, "adr_path": adr,
                "gate": "G1", "artifacts": arts}

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
        from .build import acceptance, relevant_files, test_file

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

    def log_refusals(self, s: FeatureState, gate: str, refused: tuple) -> list[str]:
        out = []
        for path, why in refused:
            self.env.ledger.event(s["run_id"], "write_refused", gate=gate, path=path, why=why)
            self.env.say(f"{gate}: refused write to {path!r}: {why}")
            out.append(f"write to {path!r} refused: {why}")
        return out

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

    # -- G5 ---------------------------------------------------------------------------------
    def g5_implement(self, s: FeatureState) -> dict[str, Any]:
        """The inner loop (graphs/build.py): attempts run against the acceptance cases; only
        a green candidate is committed and goes on to the checks and reviews."""
        from .build import implement, relevant_files, test_file

        ws = self.env.workspace(s)
        rnd = s.get("fix_round", 0)
        revisions = len((s.get("revisions") or {}).get("implement", []))
        step = f"g5-implement-r{rnd}-v{revisions}"
        if (done := ws.git.find_step_commit(s["base_sha"], step)) is not None:
            return {"head": done, "gate": "G5", "inner": {"green": True, "reasons": []}}
        acc = s.get("acceptance") or {"path": "", "imports": {}, "cases": [], "disputed": []}
        cand, reasons, acc = implement(self, s, relevant_files(self, s), acc)
        if cand is None:
            self.env.say(f"G5: round {rnd}: no candidate passed the acceptance cases")
            return {"gate": "G5", "acceptance": acc,
                    "inner": {"green": False, "reasons": reasons[:8]}}
        if acc["disputed"]:  # shipyard, not the model, rewrites its own test file
            ws.apply([(acc["path"], test_file(ws.path, s, acc))])
            ws.commit_step(f"g3-tests-disputed-r{rnd}-v{revisions}",
                           "test: set aside proposed cases that independent candidates "
                           "agree against")
        result = ws.apply(list(cand.files.items()))
        refusals = self.log_refusals(s, "G5", result.refused)
        title = (s.get("onepager") or {}).get("title", "change")
        head = ws.commit_step(step, f"feat: {title[:72]}", trailers={"Shipyard-Round": str(rnd)})
        diff = ws.git.diff(s["base_sha"], head)
        self.env.ledger.event(s["run_id"], "diff", gate="G5", round=rnd, head=head,
                              files=list(result.written), deleted=[], diff=diff)
        self.env.say(f"G5: round {rnd} committed {head[:10]} "
                     f"({len(result.written)} file(s) written, {len(refusals)} refused)")
        return {"head": head, "gate": "G5", "refusals": refusals, "acceptance": acc,
                "inner": {"green": True, "reasons": []}}

    def g5_checks(self, s: FeatureState) -> dict[str, Any]:
        # The reviewers read the same diff: compute it once, here.
        git = self.env.workspace(s).git
        return {"checks": self.run_checks(s, "G5"), "review_diff": self.code_diff(s, s["head"]),
                "review_files": git.tracked_files("HEAD")}

    def code_diff(self, s: FeatureState, head: str) -> str:
        """The change as reviewers and the Docs agent read it: without shipyard's own
        planning documents (they are not the change, and every token costs)."""
        diff = self.env.workspace(s).git.run("diff", "--no-color", "--no-ext-diff", s["base_sha"],
                                             head, "--", ".", ":(exclude)docs/shipyard",
                                             check=False)
        if len(diff) > DIFF_LIMIT:
            diff = diff[:DIFF_LIMIT] + f"\n... [diff truncated: {len(diff)} characters in all]"
        return diff

    def review(self, s: dict[str, Any]) -> dict[str, Any]:
        from .review import applicability, ground_review, parse_diff

        role = s["review_role"]
        diff = parse_diff(s["review_diff"])
        stamp = {"round": s.get("fix_round", 0), "head": s["head"]}
        why_not = applicability(role, diff, scoped=self.env.settings.gates.scoped_reviews)
        if why_not:
            self.env.ledger.event(s["run_id"], "review_not_applicable", gate="G5", role=role,
                                  reason=why_not, decided_by="code")
            self.env.say(f"G5: {role} review → not applicable ({why_not})")
            return {"reviews": {role: {"verdict": "not_applicable", "summary": why_not,
                                       "findings": [], **stamp}}}
        ctx = self.context(s, "review", files=s["review_files"], diff=s["review_diff"],  # type: ignore[arg-type]
                           checks=_checks_summary(s.get("checks", [])))
        raw = REVIEWERS[role].run(self.env.gateway(s["run_id"]), gate="G5", **ctx)
        review = ground_review(raw.model_dump(mode="json"), diff, s.get("checks", []))
        if review["note"]:
            self.env.ledger.event(s["run_id"], "review_block_ungrounded", gate="G5", role=role,
                                  findings=review["findings"], summary=review["summary"])
        self.env.say(f"G5: {role} review → {review['verdict']}"
                     + (" (ungrounded block kept as a note)" if review["note"] else ""))
        return {"reviews": {role: {**review, **stamp}}}

    def g5_decide(self, s: FeatureState) -> dict[str, Any]:
        rnd = s.get("fix_round", 0)
        reviews = {r: v for r, v in (s.get("reviews") or {}).items() if v.get("head") == s["head"]}
        inner = s.get("inner") or {"green": True, "reasons": []}
        if inner["green"]:
            reasons = block_reasons(s.get("checks", []), reviews, s.get("refusals", []))
        else:  # no candidate passed the acceptance cases: nothing was reviewed
            reasons = [f"acceptance: {r}" for r in inner["reasons"]] or [
                "acceptance: no candidate passed the acceptance cases"]
        self.env.ledger.event(s["run_id"], "g5_decision", gate="G5", round=rnd,
                              verdict="pass" if not reasons else "block", reasons=reasons)
        arts = self.artifact(s, "G5", "review-reports", f"{self.docs_dir(s)}/reviews.md",
                             md.reviews_md(s["run_id"], reviews, s.get("checks", []), rnd))
        if not reasons:
            return {"g5_verdict": "pass", "findings": [], "artifacts": arts}
        if rnd < self.env.settings.gates.max_fix_rounds:
            self.env.say(f"G5: blocked ({len(reasons)} finding(s)); back to the Implementer")
            return {"g5_verdict": "block", "fix_round": rnd + 1, "findings": reasons,
                    "artifacts": arts}
        return {"g5_verdict": "exhausted", "findings": reasons, "status": "failed",
                "reason": (f"G5 still blocked after {rnd} fix round(s); branch "
                           f"shipyard/{s['run_id']} kept, nothing merged. Findings: "
                           + "; ".join(reasons[:5])), "artifacts": arts}

    # -- G6 ---------------------------------------------------------------------------------
    def g6_harden(self, s: FeatureState) -> dict[str, Any]:
        ws = self.env.workspace(s)
        revisions = len((s.get("revisions") or {}).get("implement", []))
        head = ws.commit_step(f"g6-docs-r{s.get('fix_round', 0)}-v{revisions}",
                              "docs: shipyard review reports and plans")
        final = self.run_checks(s, "G6")
        update: dict[str, Any] = {"head": head, "final_checks": final, "gate": "G6"}
        blocking = [c["name"] for c in final if c["blocking"] and c["status"] in ("fail", "error")]
        if blocking:
            update |= {"status": "failed", "reason": "G6 final checks block: " + ", ".join(blocking)}
        return update

    # -- G7 ---------------------------------------------------------------------------------
    def g7_launch(self, s: FeatureState) -> dict[str, Any]:
        from ..runtime.pinning import approved_head, check_pinned

        ws = self.env.workspace(s)
        step = "g7-release"
        # The head the G6 approval signed (older approvals name none: the head G6 showed).
        approved = approved_head(self.env.ledger, s.get("decisions", [])) or s["head"]
        notes_path = f"{self.docs_dir(s)}/release-notes.md"
        check_pinned(ws.git, approved, ws.head(), allowed={notes_path}, run_id=s["run_id"])
        notes = (self.recorded_output(s, "docs", "release_notes")
                 if ws.git.find_step_commit(s["base_sha"], step) else None)
        arts: dict[str, str] = {}
        if notes is None:
            # The same diff and check summary the G5 reviewers read, in the same shared
            # context block: a local server then reuses that prompt prefix, and the notes cost
            # only their own instruction and output.
            ctx = self.context(s, "release", files=s.get("review_files"),
                               diff=self.code_diff(s, approved),
                               checks=_checks_summary(s.get("checks", [])))
            notes = docs.RELEASE_NOTES.run(self.env.gateway(s["run_id"]), gate="G7",
                                           **ctx).model_dump(mode="json")
        if not ws.git.find_step_commit(s["base_sha"], step):
            arts |= self.artifact(s, "G7", "release-notes", notes_path,
                                  md.release_notes_md(s["run_id"], notes))
        head = ws.commit_step(step, f"docs: release notes for {notes['title'][:60]}")
        check_pinned(ws.git, approved, head, allowed={notes_path}, run_id=s["run_id"])
        approver = next((d["who"] for d in reversed(s.get("decisions", []))
                         if d["gate"] == "G6" and d["decision"] == "approve"), "unknown")
        merge_sha, final = self._merge(s, head, approver, notes)
        arts |= final
        arts |= self._attest(s, merge_sha)
        self.env.say(f"G7: merged {merge_sha[:10]} into {s['base_branch']}")
        return {"merge_sha": merge_sha, "head": head, "status": "merged", "gate": "G7",
                "reason": f"merged into {s['base_branch']} as {merge_sha[:12]}", "artifacts": arts}

    def _merge(self, s: FeatureState, head: str, approver: str,
               notes: dict[str, Any]) -> tuple[str, dict[str, str]]:
        from ..runtime.keys import public_key_id

        repo = self.env.repo
        existing = repo.run("log", "--merges", "--format=%H", "-1", "--grep",
                            f"Shipyard-Run: {s['run_id']}", f"refs/heads/{s['base_branch']}",
                            check=False).strip()
        if existing:
            return existing, {}  # merged before a crash; do not merge twice
        title = (s.get("onepager") or {}).get("title", "shipyard change")
        seq, chain_hash = self.env.ledger.head()
        message = (f"Merge shipyard/{s['run_id']}: {title}\n\nShipyard-Run: {s['run_id']}\n"
                   f"Approved-by: {approver}\n"
                   # anchors the audit trail in git history: `shipyard verify` fails if the
                   # ledger is later rewritten, even with every hash recomputed
                   f"Shipyard-Ledger: {seq}:{chain_hash}\n"
                   f"Shipyard-Head: {head}\n"
                   f"Shipyard-Key: {public_key_id(self.env.root)}\n")
        written: dict[str, str] = {}

        def finalize(tree: Path) -> None:
            entry = md.changelog_entry(_now()[:10], s["run_id"], notes)
            changelog = _prepend_changelog(tree / "CHANGELOG.md", entry)
            (tree / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
            written["CHANGELOG.md"] = changelog
            if s.get("rfc"):
                adr, text = _numbered_adr(tree, s)
                (tree / adr).parent.mkdir(parents=True, exist_ok=True)
                (tree / adr).write_text(text, encoding="utf-8")
                written[adr] = text

        merge_sha = self.env.workspace(s).merge_into(s["base_branch"], message, finalize,
                                                     expected_head=head)
        arts: dict[str, str] = {}
        for rel, text in written.items():
            kind = "changelog" if rel == "CHANGELOG.md" else "adr"
            arts |= self.record_artifact(s, "G7", kind, rel, text)
        return merge_sha, arts

    def _attest(self, s: FeatureState, merge_sha: str) -> dict[str, str]:
        from ..runtime.attest import attest_merge
        from ..runtime.checks.base import sha256_file

        checks = json.dumps(s.get("final_checks") or s.get("checks") or [], sort_keys=True).encode()
        sbom = self.evidence_dir(s, "G6") / "sbom" / "sbom-head.cdx.json"
        path = attest_merge(self.env.root, merge_sha, s["base_sha"],
                            sbom=sbom if sbom.is_file() else None, checks_json=checks,
                            run_id=s["run_id"])
        digest = sha256_file(path)
        rel = str(path.relative_to(self.env.root)) if path.is_relative_to(self.env.root) else str(path)
        self.env.ledger.append("artifacts", run_id=s["run_id"], gate="G7", kind="provenance",
                               path=rel, sha256=digest)
        return {rel: digest}

    # -- G8 ---------------------------------------------------------------------------------
    def g8_learn(self, s: FeatureState) -> dict[str, Any]:
        ledger, run_id = self.env.ledger, s["run_id"]
        status = s.get("status") or "failed"
        started = datetime.fromisoformat(s["started_at"])
        calls = ledger.rows("llm_calls", run_id=run_id)
        dora = {"deployed": status == "merged", "lead_time_s": (datetime.now(UTC) - started).total_seconds(),
                "change_failed": status == "failed", "fix_rounds": s.get("fix_round", 0),
                "human_decisions": len(s.get("decisions", []))}
        cost = {"llm_calls": len(calls), "cost_usd": sum(c["cost_usd"] or 0 for c in calls),
                "input_tokens": sum(c["input_tokens"] or 0 for c in calls),
                "output_tokens": sum(c["output_tokens"] or 0 for c in calls)}
        ledger.event(run_id, "dora", gate="G8", **dora)
        ledger.event(run_id, "cost", gate="G8", **cost)
        if status == "failed":
            path = self.env.root / ".shipyard" / "runs" / run_id / "postmortem.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_postmortem(s, dora, cost), encoding="utf-8")
        ws = self.env.workspace(s, ensure=False)
        if status in ("merged", "rejected"):
            # A run rejected before any commit leaves no trace in the repository.
            commits = ws.repo.run("rev-list", "--count", f"{s['base_sha']}..refs/heads/{ws.branch}",
                                  check=False).strip() if ws.repo.branch_exists(ws.branch) else "0"
            ws.remove(delete_branch=status == "rejected" and commits == "0")
        ledger.event(run_id, "run_ended", gate="G8", status=status, reason=s.get("reason", ""))
        return {"status": status, "gate": "G8" if status == "merged" else s.get("gate", "G8")}

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


def _brief(s: FeatureState) -> bool:
    """Whether G0 decided this request gets the brief plan (graphs/scale.py)."""
    return s.get("planning") == BRIEF


def _checks_summary(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "(no tool checks ran)"
    lines = []
    for c in checks:
        lines.append(f"- {c['name']}: {c['status']}{' (blocking)' if c['blocking'] else ''}")
        for f in c.get("findings", [])[:5]:
            where = f"{f['path']}:{f['line']} " if f.get("path") else ""
            lines.append(f"    - [{f['severity']}] {where}{f['rule']}: {f['message'][:200]}")
    return "\n".join(lines)


def _numbered_adr(tree: Path, s: FeatureState) -> tuple[str, str]:
    """The run's ADR under the next free number of `docs/adr/` in the merge tree."""
    adr_dir = tree / "docs" / "adr"
    taken = [int(p.name[:4]) for p in adr_dir.glob("[0-9][0-9][0-9][0-9]-*.md")] \
        if adr_dir.is_dir() else []
    number = max(taken, default=0) + 1
    rfc = s["rfc"]
    rel = f"docs/adr/{number:04d}-{md.slugify(rfc['title'])}.md"
    return rel, md.adr_md(number, s["run_id"], rfc, s.get("forecast") or {})


def _prepend_changelog(path: Any, entry: str) -> str:
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    header = "# Changelog\n\n"
    body = existing.removeprefix(header)
    return header + entry + ("\n" + body if body.strip() else "")


def _postmortem(s: FeatureState, dora: dict[str, Any], cost: dict[str, Any]) -> str:
    findings = "\n".join(f"- {f}" for f in s.get("findings", [])) or "- (none recorded)"
    return f"""# Postmortem (stub): run {s['run_id']}

Blameless. Fill in the analysis and the actions, each with an owner and a date.

- Feature: {s['feature'][:300]}
- Ended at: {s.get('gate', '?')} with status **failed**
- Reason: {s.get('reason', '(unknown)')}
- Fix rounds used: {dora['fix_rounds']}
- LLM calls: {cost['llm_calls']}, cost ${cost['cost_usd']:.4f}

## Last findings
{findings}

## What happened
(timeline: `shipyard log {s['run_id']}`)

## Why

## Actions
| Action | Owner | Due |
|---|---|---|
"""
