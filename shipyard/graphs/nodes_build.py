"""G5: the inner loop's candidate committed, the checks, the scoped and grounded reviews,
and the decision (graphs/build.py holds the inner loop itself, graphs/review.py the rules)."""

from __future__ import annotations

import re
from typing import Any

from ..agents import REVIEWERS
from ..agents import artifacts as md
from ..runtime.repomap import is_test_path
from .nodes_base import NodeBase, checks_summary
from .review import (
    DiffMap,
    applicability,
    block_reasons,
    ground_review,
    parse_diff,
    uncoverable,
    unrunnable,
)
from .state import FeatureState

_DEF = re.compile(r"\s*(?:async\s+)?def\s+([A-Za-z]\w*)")

__all__ = ["BuildNodes"]


class BuildNodes(NodeBase):
    # -- G5 ---------------------------------------------------------------------------------
    def g5_implement(self, s: FeatureState) -> dict[str, Any]:
        """The inner loop (graphs/build.py): attempts run against the acceptance cases; only
        a green candidate is committed and goes on to the checks and reviews."""
        from .acceptance import test_file
        from .build import implement
        from .context import relevant_files

        ws = self.env.workspace(s)
        rnd = s.get("fix_round", 0)
        revisions = len((s.get("revisions") or {}).get("implement", []))
        step = f"g5-implement-r{rnd}-v{revisions}"
        if (done := ws.git.find_step_commit(s["base_sha"], step)) is not None:
            return {"head": done, "gate": "G5", "inner": {"green": True, "reasons": []}}
        acc = s.get("acceptance") or {"path": "", "imports": {}, "cases": [], "disputed": []}
        cand, reasons, acc = implement(self, s, relevant_files(self, s), acc)
        if cand is None:
            # "passed" alone misled when a lone sample passed and was not taken (as luck)
            self.env.say(f"G5: round {rnd}: no candidate taken"
                         + (f": {reasons[0][:200]}" if reasons else ""))
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
        diff = self.code_diff(s, s["head"])
        return {"checks": self.run_checks(s, "G5"), "review_diff": diff,
                "review_files": git.tracked_files("HEAD"),
                "untested": self.untested(s, parse_diff(diff))}

    def untested(self, s: FeatureState, diff: DiffMap) -> list[str]:
        """Functions the change defines (outside tests) that no test file at head names:
        the evidence a Test reviewer's `missing-test` finding must point at."""
        git = self.env.workspace(s).git
        source = [text for path, lines in diff.lines.items()
                  if path.endswith(".py") and not is_test_path(path) for text in lines.values()]
        defined = {m.group(1) for text in source if (m := _DEF.match(text))}
        out = []
        for name in sorted(defined):
            hits = git.run("grep", "-l", "-w", "-e", name, s["head"], "--", "*.py", check=False)
            if not any(is_test_path(h.split(":", 1)[-1]) for h in hits.splitlines()):
                out.append(name)
        return out

    def review(self, s: dict[str, Any]) -> dict[str, Any]:
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
                           checks=checks_summary(s.get("checks", [])))
        raw = REVIEWERS[role].run(self.env.gateway(s["run_id"]), gate="G5", **ctx)
        acc = s.get("acceptance") or {}
        review = ground_review(raw.model_dump(mode="json"), diff, s.get("checks", []),
                               fixed=[acc["path"]] if acc.get("cases") else [],
                               untested=s.get("untested", []))
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
            if not (s.get("review_diff") or "").strip():  # only shipyard's own documents
                reasons.append("the change has no code: nothing but shipyard's documents "
                               "differs from the base")
        else:  # no candidate passed the acceptance cases: nothing was reviewed
            reasons = [f"acceptance: {r}" for r in inner["reasons"]] or [
                "acceptance: no candidate passed the acceptance cases"]
        self.env.ledger.event(s["run_id"], "g5_decision", gate="G5", round=rnd,
                              verdict="pass" if not reasons else "block", reasons=reasons)
        arts = self.artifact(s, "G5", "review-reports", f"{self.docs_dir(s)}/reviews.md",
                             md.reviews_md(s["run_id"], reviews, s.get("checks", []), rnd))
        if not reasons:
            return {"g5_verdict": "pass", "findings": [], "artifacts": arts}
        # A round whose inner loop found no green candidate already sampled and repaired
        # `inner_attempts` times; one more such round is worth it, a third rarely (small
        # models' self-repair plateaus) and costs minutes.
        rounds = self.env.settings.gates.max_fix_rounds if inner["green"] else min(
            1, self.env.settings.gates.max_fix_rounds)
        if inner["green"] and (missing := unrunnable(s.get("checks", []))):
            return {"g5_verdict": "exhausted", "findings": reasons, "status": "failed",
                    "reason": (f"G5 blocked in round {rnd}: " + "; ".join(missing) +
                               f". No change to the code can fix that: install it, then run "
                               f"the feature again (branch shipyard/{s['run_id']} kept, "
                               f"nothing merged)"), "artifacts": arts}
        if inner["green"] and (why := uncoverable(s.get("checks", []), reviews,
                                                  s.get("refusals", []),
                                                  s.get("acceptance") or {})):
            return {"g5_verdict": "exhausted", "findings": reasons, "status": "failed",
                    "reason": (f"G5 blocked in round {rnd}: {why} (branch "
                               f"shipyard/{s['run_id']} kept, nothing merged)"),
                    "artifacts": arts}
        if rnd < rounds:
            self.env.say(f"G5: blocked ({len(reasons)} finding(s)); back to the Implementer")
            return {"g5_verdict": "block", "fix_round": rnd + 1, "findings": reasons,
                    "artifacts": arts}
        return {"g5_verdict": "exhausted", "findings": reasons, "status": "failed",
                "reason": (f"G5 still blocked after {rnd} fix round(s); branch "
                           f"shipyard/{s['run_id']} kept, nothing merged. Findings: "
                           + "; ".join(reasons[:5])), "artifacts": arts}
