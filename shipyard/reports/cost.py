"""What the agents cost: every model call in the ledger, priced and grouped.

A call's cost is what the gateway recorded when it was made (local and scripted models
at 0: their tokens and seconds are still counted), except that a model with a price in
`[models.prices]` of shipyard.toml is re-priced from its tokens, so a private model priced
after the fact shows up in old runs too.
The FOCUS export and the weekly page use the same priced calls, so every total agrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..errors import RunNotFound, UserError
from ..runtime.ledger import Ledger
from ..runtime.pricing import Price, is_free
from ._period import iso

__all__ = ["GROUPS", "CostLine", "CostReport", "PricedCall", "cost_report", "priced_calls"]

Group = Literal["agent", "model", "gate", "run"]
GROUPS: tuple[str, ...] = ("agent", "model", "gate", "run")


@dataclass(frozen=True, kw_only=True, slots=True)
class PricedCall:
    """One `llm_calls` row with the cost the reports use."""

    id: str
    run_id: str
    ts: str
    agent: str
    task: str
    gate: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    cost_usd: float
    price_source: str  # ledger | config | free
    feature: str
    error: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CostLine:
    key: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
    free_calls: int = 0  # calls to local/scripted models: tokens and time, no money


@dataclass(frozen=True, kw_only=True, slots=True)
class CostReport:
    by: str
    run_id: str | None
    since: str | None
    currency: str
    total: CostLine
    lines: list[CostLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def priced_calls(ledger: Ledger, *, run_id: str | None = None, since: datetime | None = None,
                 prices: Mapping[str, Price] | None = None) -> list[PricedCall]:
    """Every model call (of one run, or since a date), priced, in ledger order."""
    features = {r["run_id"]: r["feature"] or "" for r in ledger.rows("runs")}
    if run_id is not None and run_id not in features:
        known = ", ".join(list(features)[-5:]) or "none yet"
        raise RunNotFound(f"no run {run_id!r} in this ledger (recent: {known}); "
                          f"`shipyard runs` lists them.")
    where, params = (None, None) if since is None else ("ts >= ?", [iso(since)])
    rows = ledger.rows("llm_calls", run_id=run_id, where=where, params=params)
    return [_priced(row, features.get(row["run_id"], ""), prices or {}) for row in rows]


def _priced(row: dict[str, Any], feature: str, prices: Mapping[str, Price]) -> PricedCall:
    model = row["model"] or "unknown"
    tokens_in, tokens_out = int(row["input_tokens"] or 0), int(row["output_tokens"] or 0)
    if model in prices and not is_free(model):
        price = prices[model]
        cost = tokens_in * price.input_per_token + tokens_out * price.output_per_token
        source = "config"
    else:  # the gateway priced local models at 0 (a scripted `price_as` is priced like its model)
        cost = float(row["cost_usd"] or 0.0)
        source = "free" if cost == 0.0 and is_free(model) else "ledger"
    return PricedCall(id=row["id"], run_id=row["run_id"], ts=row["ts"], agent=row["agent"] or "",
                      task=row["task"] or "", gate=row["gate"] or "", model=model,
                      provider=row["provider"] or "", input_tokens=tokens_in,
                      output_tokens=tokens_out, latency_s=float(row["latency_s"] or 0.0),
                      cost_usd=cost, price_source=source, feature=feature, error=row["error"])


def cost_report(ledger: Ledger, *, run_id: str | None = None, since: datetime | None = None,
                by: str = "agent", prices: Mapping[str, Price] | None = None) -> CostReport:
    """Calls, tokens, seconds and USD per agent, model, gate or run, most expensive first."""
    if by not in GROUPS:
        raise UserError(f"--by {by!r} is not a grouping; use one of {', '.join(GROUPS)}.")
    calls = priced_calls(ledger, run_id=run_id, since=since, prices=prices)
    return summarize(calls, by=by, run_id=run_id, since=since)


def summarize(calls: list[PricedCall], *, by: str, run_id: str | None = None,
              since: datetime | None = None) -> CostReport:
    groups: dict[str, list[PricedCall]] = {}
    for call in calls:
        key = (call.run_id if by == "run" else getattr(call, by)) or "(none)"
        groups.setdefault(key, []).append(call)
    lines = sorted((_line(key, group) for key, group in groups.items()),
                   key=lambda ln: (-ln.cost_usd, -(ln.input_tokens + ln.output_tokens), ln.key))
    return CostReport(by=by, run_id=run_id, since=iso(since) if since else None, currency="USD",
                      total=_line("total", calls), lines=lines)


def _line(key: str, calls: list[PricedCall]) -> CostLine:
    return CostLine(key=key, calls=len(calls),
                    input_tokens=sum(c.input_tokens for c in calls),
                    output_tokens=sum(c.output_tokens for c in calls),
                    seconds=round(sum(c.latency_s for c in calls), 3),
                    cost_usd=sum(c.cost_usd for c in calls),
                    free_calls=sum(c.price_source == "free" for c in calls))
