"""AI Governance: AI/privacy scope at G0 (DPIA trigger), and review of the diff (G5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import AgentTask, ReviewTask, Strict


class AIScope(Strict):
    ai_in_product: bool = False
    personal_data: bool = False
    dpia_required: bool = False
    eu_ai_act_risk: Literal["none", "minimal", "limited", "high"] = "none"
    notes: str = Field("", max_length=300)


SCOPE = AgentTask(role="governance", task="scope", output=AIScope)
REVIEW = ReviewTask(role="governance", rules=(
    "personal-data",
    "data-scope",
    "ai-usage",
    "prompt-injection",
    "transparency",
))
