"""Test Engineer: the test plan with acceptance tests written first (G3), and the test review (G5)."""

from __future__ import annotations

from pydantic import Field

from .base import AgentTask, ReviewTask, Strict


class TestCase(Strict):
    __test__ = False  # not a pytest class
    call: str = Field(..., max_length=200,
                      description="A Python call of the function under test, e.g. f(1, 2).")
    expected: str = Field(..., max_length=200,
                          description="The exact return value as a Python literal, e.g. 3, "
                                      "or `raises ValueError` when the call must raise.")
    criterion: str = Field("", max_length=150, description="The acceptance criterion it proves.")


class TestPlan(Strict):
    __test__ = False
    strategy: str = Field("", max_length=300)
    cases: list[TestCase] = Field(..., min_length=1, max_length=6)


class Answer(Strict):
    """What one call returns, asked again when samples of the code dispute a proposed case
    (graphs/disputes.py)."""
    expected: str = Field(..., max_length=200,
                          description="The exact return value as a Python literal, e.g. 3.")


ANSWER = AgentTask(role="test", task="answer", output=Answer)
PLAN = AgentTask(role="test", task="plan", output=TestPlan, brief=("cases",))
REVIEW = ReviewTask(role="test", rules=(
    "failing-test",
    "missing-test",
    "weak-assertion",
    "deleted-test",
    "edge-case",
    "tool-finding",
))
