"""Implementer: writes the change as whole-file edits (G5), and fixes review findings."""

from __future__ import annotations

from pydantic import Field

from .base import AgentTask, FileEdit, Strict


class Change(Strict):
    summary: str = Field(..., max_length=400, description="One line for the commit message.")
    files: list[FileEdit] = Field(..., min_length=1, max_length=8)
    delete: list[str] = Field(default_factory=list, max_length=5)


IMPLEMENT = AgentTask(role="implementer", task="implement", output=Change)
