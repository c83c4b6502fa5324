"""FinOps: a cost forecast at G1, and a review of the change's cost impact (G5).

The budget itself is enforced by code (the gateway and the G4 check), never by
this agent's opinion.
"""

from __future__ import annotations

from pydantic import Field

from .base import AgentTask, ReviewTask, Strict


class CostForecast(Strict):
    runtime_cost_impact: str = Field(..., max_length=200,
                                     description="Effect of the change on run-time cost.")
    notes: str = Field("", max_length=200)


FORECAST = AgentTask(role="finops", task="forecast", output=CostForecast)
REVIEW = ReviewTask(role="finops", rules=(
    "paid-service",
    "model-calls",
    "unbounded-compute",
    "polling",
))
