"""Test Engineer: the test plan with acceptance tests written first (G3), and the test review (G5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import AgentTask, FileEdit, Review, Strict


class TestCase(Strict):
    __test__ = False  # not a pytest class
    name: str = Field(..., max_length=120)
    kind: Literal["unit", "integration", "contract", "e2e", "performance"] = "unit"
    criterion: str = Field(..., max_length=300, description="The acceptance criterion it proves.")


class TestPlan(Strict):
    __test__ = False
    strategy: str = Field(..., max_length=800)
    cases: list[TestCase] = Field(..., min_length=1, max_length=10)
    test_files: list[FileEdit] = Field(default_factory=list, max_length=3,
                                       description="Acceptance tests, written before the code.")


PLAN = AgentTask(role="test", task="plan", output=TestPlan)
REVIEW = AgentTask(role="test", task="review", output=Review)
