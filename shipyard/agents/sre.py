"""SRE / Observability: reviews the diff for reliability, SLO impact and telemetry (G5)."""

from __future__ import annotations

from .base import AgentTask, Review

REVIEW = AgentTask(role="sre", task="review", output=Review)
