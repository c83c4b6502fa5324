"""Every structured answer an agent gives is finite by its grammar: the schema bounds every
string and every list, so a model that loops inside one value is cut off by the grammar at
the bound, not by the token limit (which fails the gate: HumanEval 22, 2026-12-06, where
the Planner wrote one acceptance criterion until its 2,048 tokens ran out, twice)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shipyard.agents import docs, finops, governance, planner, security, sre, test_engineer
from shipyard.agents.base import AgentTask, ReviewTask, brief_schema, review_schema


def _tasks() -> Iterator[tuple[str, Any]]:
    for module in (docs, finops, governance, planner, security, sre, test_engineer):
        where = module.__name__.rsplit(".", 1)[-1]
        for name, value in vars(module).items():
            if isinstance(value, AgentTask):
                yield f"{where}.{name}", value.output
                if value.brief:
                    yield f"{where}.{name} (brief)", brief_schema(value.output, value.brief)
            elif isinstance(value, ReviewTask):
                yield f"{where}.{name}", review_schema(value.role, value.rules)


def _unbounded(node: Any, defs: dict[str, Any], where: str = "") -> Iterator[str]:
    """The places in a JSON schema where a string or a list has no upper bound."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield from _unbounded(defs[node["$ref"].rsplit("/", 1)[-1]], defs, where)
            return
        kind = node.get("type")
        if kind == "string" and "maxLength" not in node and "enum" not in node \
                and "const" not in node:
            yield where or "(root)"
        if kind == "array" and "maxItems" not in node:
            yield where or "(root)"
        for key, value in node.items():
            if key == "$defs":
                continue
            yield from _unbounded(value, defs, f"{where}.{key}" if key not in (
                "properties", "anyOf") else where)
    elif isinstance(node, list):
        for item in node:
            yield from _unbounded(item, defs, where)


TASKS = dict(_tasks())


def test_every_agent_task_is_found():
    assert len(TASKS) >= 15 and "planner.ONEPAGER (brief)" in TASKS


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_string_and_list_an_agent_writes_is_bounded(name: str):
    schema = TASKS[name].model_json_schema()
    assert list(_unbounded(schema, schema.get("$defs", {}))) == [], (
        f"{name}: an unbounded value lets a looping model run to the token limit; give it "
        "a max_length")
