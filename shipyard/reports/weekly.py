"""The weekly page: DORA trends, cost by agent and model, gate verdicts, blocked reasons.

One self-contained HTML file — inline CSS, inline SVG charts, no script, no font or
image fetched — for the person who would rather look than read. `weekly_data()` is the
same content as a dict (for `--json` and the web console).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from ..runtime.ledger import Ledger
from ..runtime.pricing import Price
from . import charts
from ._period import iso
from .cost import priced_calls, summarize
from .dora import dora_report, event_data

__all__ = ["weekly_data", "weekly_html"]


def weekly_data(ledger: Ledger, repo: Path | None, *, weeks: int = 8,
                now: datetime | None = None,
                prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """Everything the page shows, over the last `weeks` weeks up to `now`."""
    now = now or datetime.now(UTC)
    since = now - timedelta(weeks=weeks)
    calls = [c for c in priced_calls(ledger, since=since, prices=prices)
             if c.ts <= iso(now)]
    dora = dora_report(ledger, repo, since=since, now=now)
    return {
        "since": iso(since), "until": iso(now), "weeks": weeks,
        "dora": dora.to_dict(),
        "cost_by_agent": summarize(calls, by="agent", since=since).to_dict(),
        "cost_by_model": summarize(calls, by="model", since=since).to_dict(),
        "verdicts": _verdicts(ledger, since, now),
        "blocked": _blocked(ledger, since, now),
    }


def _in(row: dict[str, Any], since: datetime, now: datetime) -> bool:
    return iso(since) <= row["ts"] <= iso(now)


def _verdicts(ledger: Ledger, since: datetime, now: datetime) -> dict[str, dict[str, int]]:
    """gate -> verdict -> count: human decisions, G5 pass/block, and how runs ended."""
    counts: dict[str, Counter[str]] = {}
    for row in ledger.rows("approvals"):
        if _in(row, since, now):
            counts.setdefault(row["gate"], Counter())[row["decision"]] += 1
    for row in ledger.rows("events", where="kind IN ('g5_decision', 'run_ended')"):
        if not _in(row, since, now):
            continue
        data = event_data(row)
        if row["kind"] == "g5_decision":
            counts.setdefault("G5", Counter())[data.get("verdict", "?")] += 1
        else:
            counts.setdefault("end", Counter())[data.get("status", "?")] += 1
    order = {g: i for i, g in enumerate(["G0", "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8"])}
    return {gate: dict(counts[gate].most_common())
            for gate in sorted(counts, key=lambda g: order.get(g, 99))}


def _blocked(ledger: Ledger, since: datetime, now: datetime) -> dict[str, Any]:
    """Why changes were held back: G5 block reasons by kind, and runs that did not merge."""
    kinds: Counter[str] = Counter()
    examples: dict[str, str] = {}
    ended = []
    for row in ledger.rows("events", where="kind IN ('g5_decision', 'run_ended')"):
        if not _in(row, since, now):
            continue
        data = event_data(row)
        if row["kind"] == "g5_decision":
            for reason in data.get("reasons") or []:
                kind = str(reason).split(":", 1)[0].strip()[:60] or "other"
                kinds[kind] += 1
                examples.setdefault(kind, str(reason)[:200])
        elif data.get("status") in ("failed", "rejected"):
            ended.append({"run_id": row["run_id"], "status": data["status"],
                          "gate": row["gate"], "reason": str(data.get("reason", ""))[:300]})
    return {"reasons": [{"kind": k, "count": n, "example": examples[k]}
                        for k, n in kinds.most_common(12)],
            "runs": ended[-20:]}


# --------------------------------------------------------------------------- HTML


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#111827;
background:#f9fafb}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
.sub{color:#6b7280;margin:0 0 18px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:16px;margin-bottom:16px}
.kpi b{display:block;font-size:26px}.kpi span{color:#6b7280;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{text-align:left;
padding:4px 6px;border-bottom:1px solid #f3f4f6}th{color:#6b7280;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}
"""


def weekly_html(data: dict[str, Any]) -> str:
    """The page for `weekly_data()`'s dict."""
    dora, agents, models = data["dora"], data["cost_by_agent"], data["cost_by_model"]
    weeks = [w["week"] for w in dora["weeks"]]
    cfr = dora["change_failure_rate"]
    kpis = [(f"{dora['deployments_per_week']:.1f}/wk", f"deployments ({dora['deployments']})"),
            (_hours(dora["lead_time_median_s"]), "median lead time, kickoff → merge"),
            ("–" if cfr is None else f"{cfr:.0%}", f"change failure rate ({dora['failures']})"),
            (_hours(dora["time_to_restore_median_s"]),
             f"median time to restore ({dora['open_failures']} open)")]
    deploy_chart = charts.columns(
        weeks, {"deployed": [w["deployments"] - w["failures"] for w in dora["weeks"]],
                "failed": [w["failures"] for w in dora["weeks"]]},
        title="Deployments per week", fmt=lambda v: f"{v:.0f}")
    lead_chart = charts.line(
        weeks, [None if w["lead_time_median_s"] is None else w["lead_time_median_s"] / 3600
                for w in dora["weeks"]], title="Median lead time per week (hours)",
        fmt=lambda v: f"{v:.1f}")
    body = [
        (f"<h1>shipyard weekly report</h1><p class=sub>{escape(data['since'][:10])} → "
         f"{escape(data['until'][:10])} · {data['weeks']} weeks · total model spend "
         f"{_usd(agents['total']['cost_usd'])} · {agents['total']['calls']} model calls · "
         f"{agents['total']['input_tokens'] + agents['total']['output_tokens']:,} tokens</p>"),
        "<div class=kpis>" + "".join(f"<div class='card kpi'><b>{escape(v)}</b>"
                                     f"<span>{escape(k)}</span></div>" for v, k in kpis)
        + "</div>",
        "<div class=grid>",
        _card("Deployments per week", deploy_chart),
        _card("Lead time for changes", lead_chart),
        _card("Cost by agent", _cost_chart(agents)),
        _card("Cost by model", _cost_chart(models)),
        _card("Tokens by agent (local models cost $0 but use time)", charts.bars(
            [ln["key"] for ln in agents["lines"]],
            [ln["input_tokens"] + ln["output_tokens"] for ln in agents["lines"]],
            title="Tokens by agent", fmt=lambda v: f"{v:,.0f}", color=charts.PALETTE[2])),
        _card("Gate verdicts", _verdict_table(data["verdicts"])),
        _card("Why changes were blocked", _blocked_table(data["blocked"])),
        _card("Changes that failed after merge", _failures_table(dora["changes"])),
        "</div>",
    ]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>shipyard weekly report</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def _card(title: str, inner: str) -> str:
    return f"<section class=card><h2>{escape(title)}</h2>{inner}</section>"


def _cost_chart(report: dict[str, Any]) -> str:
    lines = report["lines"]
    chart = charts.bars([ln["key"] for ln in lines], [ln["cost_usd"] for ln in lines],
                        title=f"Cost by {report['by']} (USD)", fmt=_usd)
    rows = "".join(f"<tr><td>{escape(ln['key'])}</td><td class=num>{ln['calls']}</td>"
                   f"<td class=num>{ln['input_tokens'] + ln['output_tokens']:,}</td>"
                   f"<td class=num>{ln['seconds']:.1f}s</td>"
                   f"<td class=num>{_usd(ln['cost_usd'])}</td></tr>" for ln in lines)
    return (chart + f"<table><tr><th>{escape(report['by'])}</th><th class=num>calls</th>"
            f"<th class=num>tokens</th><th class=num>time</th><th class=num>cost</th></tr>"
            f"{rows}</table>")


def _verdict_table(verdicts: dict[str, dict[str, int]]) -> str:
    if not verdicts:
        return "<p>No gate decisions in this period.</p>"
    rows = "".join(f"<tr><td>{escape(g)}</td><td>"
                   + ", ".join(f"{escape(v)} <b>{n}</b>" for v, n in counts.items())
                   + "</td></tr>" for g, counts in verdicts.items())
    return f"<table><tr><th>gate</th><th>verdicts</th></tr>{rows}</table>"


def _blocked_table(blocked: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{escape(r['kind'])}</td><td class=num>{r['count']}</td>"
                   f"<td>{escape(r['example'])}</td></tr>" for r in blocked["reasons"])
    runs = "".join(f"<tr><td>{escape(r['run_id'])}</td><td>{escape(r['status'])} at "
                   f"{escape(r['gate'] or '?')}</td><td>{escape(r['reason'])}</td></tr>"
                   for r in blocked["runs"])
    if not rows and not runs:
        return "<p>Nothing was blocked in this period.</p>"
    return (f"<table><tr><th>reason</th><th class=num>times</th><th>example</th></tr>{rows}"
            f"</table><h2 style='margin-top:12px'>Runs that did not merge</h2><table>{runs}"
            f"</table>")


def _failures_table(changes: list[dict[str, Any]]) -> str:
    failed = [c for c in changes if c["failed"]]
    if not failed:
        return "<p>No merged change failed in this period.</p>"
    rows = "".join(f"<tr><td>{escape(c['run_id'])}</td><td>{escape(c['failure'] or '')}</td>"
                   f"<td>{escape(c['reason'] or '')}</td>"
                   f"<td class=num>{_hours(c['restore_s']) if c['restore_s'] is not None else 'open'}"
                   f"</td></tr>" for c in failed)
    return (f"<table><tr><th>run</th><th>how</th><th>why</th><th class=num>restored in</th></tr>"
            f"{rows}</table>")
