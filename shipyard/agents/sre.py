"""SRE / Observability: reviews the diff for reliability, SLO impact and telemetry (G5)."""

from __future__ import annotations

from .base import ReviewTask

REVIEW = ReviewTask(role="sre", rules=(
    "error-handling",
    "timeout",
    "resource-leak",
    "unbounded",
    "logging",
    "tool-finding",
))
