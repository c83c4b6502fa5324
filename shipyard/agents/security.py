"""Security Reviewer: STRIDE threat model (G1) and the security review of the diff (G5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import AgentTask, ReviewTask, Strict


class Threat(Strict):
    stride: Literal["spoofing", "tampering", "repudiation", "information_disclosure",
                    "denial_of_service", "elevation_of_privilege"]
    threat: str = Field(..., max_length=200)
    mitigation: str = Field(..., max_length=200)


class ThreatModel(Strict):
    threats: list[Threat] = Field(default_factory=list, max_length=4)
    overall_risk: Literal["low", "medium", "high"] = "low"


THREATS = AgentTask(role="security", task="threats", output=ThreatModel)
REVIEW = ReviewTask(role="security", rules=(
    "injection",
    "secret",
    "deserialization",
    "path-traversal",
    "auth-crypto",
    "prompt-injection",
    "tool-finding",
))
