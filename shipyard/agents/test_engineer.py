"""Test Engineer: the test plan with acceptance tests written first (G3), and the test review (G5)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field, create_model

from .base import AgentTask, ReviewTask, Strict


class TestCase(Strict):
    __test__ = False  # not a pytest class
    call: str = Field(..., max_length=200,
                      description="A Python call of the function under test, e.g. f(1, 2).")
    expected: str = Field(..., max_length=200,
                          description="The exact return value as a Python literal, e.g. 3.")
    criterion: str = Field("", max_length=150, description="The acceptance criterion it proves.")


class TestPlan(Strict):
    __test__ = False
    strategy: str = Field("", max_length=300)
    cases: list[TestCase] = Field(..., min_length=1, max_length=6)


PLAN = AgentTask(role="test", task="plan", output=TestPlan, brief=("cases",))
REVIEW = ReviewTask(role="test", rules=(
    "failing-test",
    "missing-test",
    "weak-assertion",
    "deleted-test",
    "edge-case",
    "tool-finding",
))


def plan_for(functions: list[str]) -> AgentTask[TestPlan]:
    """PLAN whose every case must call one of `functions` (the ones the request names). On
    a local model the schema's pattern becomes part of the grammar: a 0.5B model otherwise
    writes cases for whichever functions it was shown."""
    if not functions:
        return PLAN
    # no double quote or backslash inside: llama.cpp applies the pattern to the raw JSON
    # text, where either would end or escape the string (arguments use single quotes)
    pattern = rf"^({'|'.join(functions)})\([^\"\\]*\)$"
    case = create_model("TestCase", __base__=TestCase,
                        call=(str, Field(..., max_length=200, pattern=pattern,
                                         description=TestCase.model_fields["call"].description)))
    plan = create_model("TestPlan", __base__=TestPlan,
                        cases=(list[case], Field(..., min_length=1, max_length=6)))  # type: ignore[valid-type]
    return replace(PLAN, output=plan)
