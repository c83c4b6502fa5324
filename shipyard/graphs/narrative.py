"""The decision narrative shown at a human gate: what is asked, the evidence, the cost.

Built from state and tool evidence only — never written by a model — so what a
human approves is what actually happened.
"""

from __future__ import annotations

from typing import Any

from ..agents.artifacts import checks_table_md

__all__ = ["QUESTIONS", "gate_narrative"]

QUESTIONS = {
    "G0": "Approve the one-pager (scope, acceptance criteria, risks, data map)?",
    "G1": "Approve the architecture (ADR, NFRs, threat model, cost forecast)?",
    "G2": "Some guardrails are missing or failing on the base. Proceed anyway?",
    "G6": "Go / No-Go: merge this change into the base branch?",
}


def gate_narrative(s: dict[str, Any], gate: str, *, spent_usd: float,
                   budget_usd: float) -> dict[str, Any]:
    lines = [f"# {gate}: {QUESTIONS.get(gate, 'Approve?')}", "",
             f"Feature: {s['feature'][:500]}", ""]
    findings: list[str] = []
    if gate == "G0":
        p, sc = s.get("onepager", {}), s.get("scope", {})
        lines += [f"## {p.get('title', '')}", p.get("problem", ""), "", "Acceptance criteria:"]
        lines += [f"- {c}" for c in p.get("acceptance_criteria", [])]
        lines += ["", "Risks:"] + [f"- {r['risk']} ({r['likelihood']}/{r['impact']})"
                                   for r in p.get("risks", [])]
        lines += ["", (f"AI/privacy: personal data={sc.get('personal_data')}, "
                      f"DPIA required={sc.get('dpia_required')}, "
                      f"EU AI Act risk={sc.get('eu_ai_act_risk')}")]
    elif gate == "G1":
        r, t = s.get("rfc", {}), s.get("threats", {})
        lines += [f"## {r.get('title', '')}", r.get("decision", ""), "",
                  f"Files: {', '.join(r.get('files', [])) or '-'}", "", "NFRs:"]
        lines += [f"- {n['category']}: {n['requirement']}" for n in r.get("nfrs", [])]
        lines += ["", f"Threat model: overall risk {t.get('overall_risk', '?')}"]
        lines += [f"- {x['stride']}: {x['threat']}" for x in t.get("threats", [])]
        lines += ["", f"ADR: {s.get('adr_path', '-')}"]
    elif gate == "G2":
        lines += [checks_table_md(s.get("guardrails", []))]
        findings = [f"{c['name']}: {f['message']}" for c in s.get("guardrails", [])
                    if c["status"] != "pass" for f in c.get("findings", [])][:20]
    elif gate == "G6":
        reviews = s.get("reviews", {})
        lines += [f"Commit under review: {s.get('head', '')[:12]} on shipyard/{s['run_id']}",
                  f"Fix rounds used: {s.get('fix_round', 0)}", "", "## Final checks",
                  checks_table_md(s.get("final_checks", [])), "", "## Reviews"]
        lines += [f"- {role}: {r['verdict']} — {r['summary'][:200]}"
                  for role, r in sorted(reviews.items())]
        acc = s.get("acceptance") or {}
        if acc.get("disputed"):  # the Test Engineer's cases the code fails: the human decides
            lines += ["", "## Proposed acceptance cases set aside (check these)"]
            lines += [f"- `{c['call']}` expected `{c['expected']}`: "
                      f"{acc.get('why', {}).get(c['call'], 'set aside')}"
                      for c in acc["disputed"]]
        findings = [f"{c['name']}: {f.get('path') or ''}:{f.get('line') or ''} {f['message']}"
                    for c in s.get("final_checks", []) for f in c.get("findings", [])][:20]
    lines += ["", f"Cost so far: ${spent_usd:.4f} of ${budget_usd:.2f}"]
    return {"gate": gate, "run_id": s["run_id"], "question": QUESTIONS.get(gate, "Approve?"),
            "narrative": "\n".join(lines), "findings": findings,
            "cost_usd": round(spent_usd, 6), "budget_usd": budget_usd,
            "options": ["approve", "revise", "reject"]}
