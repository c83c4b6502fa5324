"""G6–G8: the final scans, the merge with release notes, CHANGELOG, ADR and provenance,
and the DORA and cost records (with a postmortem stub for a failed run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..agents import artifacts as md
from ..agents import docs
from ..runtime import metrics
from .nodes_base import NodeBase, checks_summary, now
from .state import FeatureState

__all__ = ["LaunchNodes"]


class LaunchNodes(NodeBase):
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
                               checks=checks_summary(s.get("checks", [])))
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
            entry = md.changelog_entry(now()[:10], s["run_id"], notes)
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
        if s.get("merge_sha"):
            dora["merge_sha"] = s["merge_sha"]
        ledger.event(run_id, "dora", gate="G8", **dora)
        metrics.record_run_end(status=status, lead_time_s=dora["lead_time_s"])
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
