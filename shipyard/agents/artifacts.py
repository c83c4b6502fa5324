"""Render the agents' outputs as the blueprint's living artifacts (Markdown).

Pure functions: dicts in, Markdown out. The graph writes them into the change
under `docs/shipyard/<run-id>/`, `docs/adr/` and `CHANGELOG.md`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "adr_md",
    "changelog_entry",
    "checks_table_md",
    "delivery_md",
    "onepager_md",
    "release_notes_md",
    "reviews_md",
    "slugify",
    "test_plan_md",
    "threats_md",
]


def slugify(text: str, max_len: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug[:max_len].rstrip("-")) or "change"


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items) or "- (none)"


def onepager_md(run_id: str, feature: str, p: dict[str, Any], scope: dict[str, Any]) -> str:
    risks = "\n".join(f"| {r['risk']} | {r['likelihood']} | {r['impact']} | {r['mitigation']} |"
                      for r in p.get("risks", [])) or "| (none identified) | | | |"
    data = "\n".join(f"| {d['data']} | {d['classification']} | {d['flow']} |"
                     for d in p.get("data_map", [])) or "| (no data touched) | | |"
    return f"""# One-pager: {p['title']}

Run `{run_id}` · gate G0 (strategy & risk scoping)

## Request
> {feature.strip().replace(chr(10), chr(10) + '> ')}

## Problem
{p['problem']}

## Users
{p.get('users') or '(not stated)'}

## Acceptance criteria
{_bullets(p['acceptance_criteria'])}

## Risk register
| Risk | Likelihood | Impact | Mitigation |
|---|---|---|---|
{risks}

## Data map
| Data | Classification | Flow |
|---|---|---|
{data}

## Out of scope
{_bullets(p.get('out_of_scope', []))}

## AI & privacy scope (AI Governance)
- AI in product: {scope.get('ai_in_product')}
- Personal data: {scope.get('personal_data')}
- DPIA required: {scope.get('dpia_required')}
- EU AI Act risk: {scope.get('eu_ai_act_risk')}
- Notes: {scope.get('notes') or '-'}
"""


def adr_md(number: int | None, run_id: str, rfc: dict[str, Any], forecast: dict[str, Any]) -> str:
    """An ADR; `number` None renders the draft (numbered when the change merges)."""
    nfrs = "\n".join(f"| {n['category']} | {n['requirement']} |" for n in rfc.get("nfrs", [])) \
        or "| (none) | |"
    heading = f"{number:04d}. {rfc['title']}" if number else f"ADR (draft): {rfc['title']}"
    status = (f"accepted at G1 of run `{run_id}`" if number else
              f"proposed at G1 of run `{run_id}`; numbered when the change merges")
    return f"""# {heading}

Status: {status}

## Context
{rfc['context']}

## Decision
{rfc['decision']}

Files: {', '.join(f'`{f}`' for f in rfc.get('files', [])) or '(to be decided by the implementer)'}

## Non-functional requirements
| Category | Requirement |
|---|---|
{nfrs}

## Alternatives considered
{_bullets(rfc.get('alternatives', []))}

## Consequences
{rfc.get('consequences') or '-'}

## Cost forecast (FinOps)
{forecast.get('runtime_cost_impact', '-')} {forecast.get('notes', '')}
"""


def threats_md(run_id: str, t: dict[str, Any]) -> str:
    rows = "\n".join(f"| {x['stride']} | {x['threat']} | {x['mitigation']} |"
                     for x in t.get("threats", [])) or "| (none identified) | | |"
    return f"""# Threat model (STRIDE)

Run `{run_id}` · gate G1 · overall risk: **{t.get('overall_risk', 'low')}**

| Category | Threat | Mitigation |
|---|---|---|
{rows}
"""


def test_plan_md(run_id: str, tp: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    """The plan and every executable case, with where it came from: examples in the request
    or docstrings (checked by code) or proposed by the Test Engineer."""
    rows = "\n".join(f"| `{_cell(c['call'])}` | `{_cell(c['expected'])}` | {c['source']} |"
                     for c in cases) or "| (none) | | |"
    criteria = _bullets([f"{c.get('criterion') or '-'}: `{c['call']}`"
                         for c in tp.get("cases", [])])
    return f"""# Test plan

Run `{run_id}` · gate G3 (tests are written before the code)

## Strategy
{tp.get('strategy', '')}

## Executable acceptance cases
| Call | Expected | Source |
|---|---|---|
{rows}

## Criteria the Test Engineer mapped
{criteria}
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")[:120]


def delivery_md(run_id: str, d: dict[str, Any]) -> str:
    tasks = "\n".join(f"{i}. {t['title']} ({', '.join(t.get('files', [])) or '-'})"
                      for i, t in enumerate(d["tasks"], 1))
    return f"""# Delivery plan

Run `{run_id}` · gate G4

## Tasks
{tasks}

## Rollout
{d.get('rollout') or '-'}

## Rollback
{d.get('rollback') or '-'}
"""


def checks_table_md(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "(no checks ran)"
    rows = []
    for c in checks:
        blocking = "blocking" if c.get("blocking") else "advisory"
        rows.append(f"| {c['name']} | {c['status']} | {blocking} | {len(c.get('findings', []))} |")
    return "| Check | Status | Policy | Findings |\n|---|---|---|---|\n" + "\n".join(rows)


def reviews_md(run_id: str, reviews: dict[str, dict[str, Any]], checks: list[dict[str, Any]],
               fix_round: int) -> str:
    parts = [f"# Review reports\n\nRun `{run_id}` · gate G5 · fix rounds used: {fix_round}\n",
             "## Tool checks\n", checks_table_md(checks), ""]
    for role in sorted(reviews):
        r = reviews[role]
        parts.append(f"## {role} — {r['verdict'].upper().replace('_', ' ')}\n\n{r['summary']}\n")
        if r.get("note"):
            parts.append(f"_Note: {r['note']}._\n")
        for f in r.get("findings", []):
            where = f" `{f['path']}:{f.get('line') or ''}`" if f.get("path") else ""
            grounded = "" if f.get("grounded", True) else " (not grounded in the diff)"
            parts.append(f"- [{f.get('severity', 'medium')}] {f.get('rule', '')}{where} "
                         f"{f['message']}{grounded}")
        parts.append("")
    return "\n".join(parts)


def release_notes_md(run_id: str, rn: dict[str, Any]) -> str:
    return f"""# Release notes: {rn['title']}

Run `{run_id}` · gate G7

{rn['summary']}

## Changes
{_bullets(rn['changes'])}

## Upgrade notes
{rn.get('upgrade_notes') or 'None.'}
"""


def changelog_entry(date: str, run_id: str, rn: dict[str, Any]) -> str:
    changes = "\n".join(f"- {c}" for c in rn["changes"])
    return f"## {date} — {rn['title']}\n\n{changes}\n\n_(shipyard run `{run_id}`)_\n"
