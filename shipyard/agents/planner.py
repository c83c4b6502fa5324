"""Planner: the one-pager (G0), the RFC/ADR with NFRs (G1), the delivery plan (G4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import AgentTask, Line, Strict

Level = Literal["low", "medium", "high"]


class Risk(Strict):
    risk: str = Field(..., max_length=200)
    likelihood: Level = "medium"
    impact: Level = "medium"
    mitigation: str = Field("", max_length=200)


class DataItem(Strict):
    data: str = Field(..., max_length=200)
    classification: Literal["public", "internal", "confidential", "personal"] = "internal"
    flow: str = Field("", max_length=200, description="Where it comes from and goes to.")


class OnePager(Strict):
    title: str = Field(..., min_length=3, max_length=100)
    problem: str = Field(..., max_length=400)
    users: str = Field("", max_length=200)
    acceptance_criteria: list[Line] = Field(..., min_length=1, max_length=5)
    risks: list[Risk] = Field(default_factory=list, max_length=3)
    data_map: list[DataItem] = Field(default_factory=list, max_length=3)
    out_of_scope: list[Line] = Field(default_factory=list, max_length=3)


class NFR(Strict):
    category: Literal["reliability", "performance", "security", "privacy", "scalability",
                      "cost", "accessibility", "maintainability"]
    requirement: str = Field(..., max_length=200)


class RFC(Strict):
    title: str = Field(..., min_length=3, max_length=100)
    context: str = Field("", max_length=400)
    decision: str = Field(..., max_length=400)
    files: list[Line] = Field(default_factory=list, max_length=10,
                             description="Repository-relative files to create or change.")
    nfrs: list[NFR] = Field(default_factory=list, max_length=3)
    alternatives: list[Line] = Field(default_factory=list, max_length=2)
    consequences: str = Field("", max_length=300)


class DeliveryTask(Strict):
    title: str = Field(..., max_length=120)
    files: list[Line] = Field(default_factory=list, max_length=6)


class DeliveryPlan(Strict):
    tasks: list[DeliveryTask] = Field(..., min_length=1, max_length=4)
    rollout: str = Field("", max_length=200)
    rollback: str = Field("", max_length=200)


# `brief`: what a small request's plan keeps (graphs/scale.py decides which requests are small).
ONEPAGER = AgentTask(role="planner", task="onepager", output=OnePager,
                     brief=("title", "problem", "acceptance_criteria"))
RFC_TASK = AgentTask(role="planner", task="rfc", output=RFC, brief=("title", "decision", "files"))
DELIVERY = AgentTask(role="planner", task="delivery", output=DeliveryPlan, brief=("tasks",))
