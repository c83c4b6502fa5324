"""FinOps FOCUS 1.x export: one row per model call, in the columns FinOps tools read.

One model call is one charge: `ChargeCategory` Usage, consumed and priced in tokens
(input + output; each direction is also in `x_InputTokens` / `x_OutputTokens`, the
`x_` prefix being FOCUS's rule for custom columns). Costs are the same priced calls
`shipyard report cost` sums, written at full precision, so the column sums to the
report's total. Local models are rows with cost 0: their tokens are still usage.
`Tags` is a JSON object with the run, agent, gate and feature.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._period import parse_ts
from .cost import PricedCall

__all__ = ["FOCUS_COLUMNS", "focus_rows", "write_focus_csv"]

FOCUS_COLUMNS: tuple[str, ...] = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceName", "ServiceCategory",
    "ResourceId", "ResourceName", "ResourceType", "SkuId",
    "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "Tags",
    "x_InputTokens", "x_OutputTokens", "x_LatencySeconds", "x_PriceSource", "x_LedgerId",
)


def _focus_time(value: datetime) -> str:
    """FOCUS date-times: ISO 8601 in UTC with a Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _billing_period(value: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) the charge falls in."""
    start = value.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def focus_row(call: PricedCall) -> dict[str, Any]:
    ended = parse_ts(call.ts)
    started = ended - timedelta(seconds=max(call.latency_s, 0.0))
    period_start, period_end = _billing_period(started)
    tokens = call.input_tokens + call.output_tokens
    provider = call.provider or "unknown"
    cost = repr(float(call.cost_usd))  # full precision: the column sums to the report total
    return {
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
        "BillingCurrency": "USD",
        "BillingPeriodStart": _focus_time(period_start),
        "BillingPeriodEnd": _focus_time(period_end),
        "ChargePeriodStart": _focus_time(started), "ChargePeriodEnd": _focus_time(ended),
        "ChargeCategory": "Usage", "ChargeClass": "",
        "ChargeDescription": (f"{call.agent}.{call.task} on {call.model}: {call.input_tokens} "
                              f"input + {call.output_tokens} output tokens"),
        "ChargeFrequency": "Usage-Based",
        "ProviderName": provider, "PublisherName": provider, "InvoiceIssuerName": provider,
        "ServiceName": f"{provider} models", "ServiceCategory": "AI and Machine Learning",
        "ResourceId": f"{provider}/{call.model}" if "/" not in call.model else call.model,
        "ResourceName": call.model, "ResourceType": "Language model", "SkuId": call.model,
        "ConsumedQuantity": tokens, "ConsumedUnit": "Tokens",
        "PricingQuantity": tokens, "PricingUnit": "Tokens",
        "Tags": json.dumps({"run": call.run_id, "agent": call.agent, "gate": call.gate,
                            "feature": call.feature[:200]}, ensure_ascii=False, sort_keys=True),
        "x_InputTokens": call.input_tokens, "x_OutputTokens": call.output_tokens,
        "x_LatencySeconds": round(call.latency_s, 3), "x_PriceSource": call.price_source,
        "x_LedgerId": call.id,
    }


def focus_rows(calls: Iterable[PricedCall]) -> list[dict[str, Any]]:
    return [focus_row(c) for c in calls]


def write_focus_csv(calls: Iterable[PricedCall], path: Path) -> int:
    """Write the FOCUS CSV (UTF-8, header first); returns the number of charge rows."""
    rows = focus_rows(calls)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FOCUS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
