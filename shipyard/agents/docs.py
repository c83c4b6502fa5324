"""Docs / Comms: reviews the change's docs (G5) and writes release notes + CHANGELOG (G7)."""

from __future__ import annotations

from pydantic import Field

from .base import AgentTask, Line, ReviewTask, Strict


class ReleaseNotes(Strict):
    title: str = Field(..., max_length=120)
    summary: str = Field(..., max_length=300)
    changes: list[Line] = Field(..., min_length=1, max_length=4)
    upgrade_notes: str = Field("", max_length=200)


REVIEW = ReviewTask(role="docs", rules=(
    "missing-docstring",
    "stale-docs",
    "undocumented-api",
))
RELEASE_NOTES = AgentTask(role="docs", task="release_notes", output=ReleaseNotes)
