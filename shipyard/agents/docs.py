"""Docs / Comms: reviews the change's docs (G5) and writes release notes + CHANGELOG (G7)."""

from __future__ import annotations

from pydantic import Field

from .base import AgentTask, Review, Strict


class ReleaseNotes(Strict):
    title: str = Field(..., max_length=120)
    summary: str = Field(..., max_length=800)
    changes: list[str] = Field(..., min_length=1, max_length=8)
    upgrade_notes: str = Field("", max_length=400)


REVIEW = AgentTask(role="docs", task="review", output=Review)
RELEASE_NOTES = AgentTask(role="docs", task="release_notes", output=ReleaseNotes)
