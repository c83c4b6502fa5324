"""Eval cases: one JSONL file per agent and task under `shipyard/evals/data/`.

Each line is one case: an input slice of the pipeline state (what the agent is shown
in a run), its expectations (`expect`), a `reference` answer (what a correct agent
replies; the `reference` model answers with it, which checks data and metrics agree),
and its `source` (repository, commit and licence for cases taken from real code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import UserError

__all__ = ["MINIMUM", "Case", "agents", "load_cases", "sample"]

# The minimum sizes per agent (all of the agent's tasks together).
MINIMUM = {"security": 20, "test": 20, "implementer": 20, "planner": 10, "sre": 5,
           "governance": 5, "finops": 5, "docs": 5, "redteam": 5}


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    id: str
    agent: str
    task: str
    input: dict[str, Any]
    expect: dict[str, Any]
    reference: Any = None
    label: str | None = None   # reviewer cases: "good" (approve) or "bad" (block)
    defect: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return f"{self.agent}.{self.task}"


def _files() -> list[Any]:
    return sorted((p for p in resources.files("shipyard.evals").joinpath("data").iterdir()
                   if p.name.endswith(".jsonl")), key=lambda p: p.name)


def agents() -> list[str]:
    """Agents that have eval data, in a stable order."""
    return sorted({p.name.split(".", 1)[0] for p in _files()})


def load_cases(agent: str | None = None) -> list[Case]:
    """Every case (of one agent, or of one dataset: `test.plan`), in file order; a
    malformed line names its file and line."""
    known = agents()
    name, _, task = (agent or "").partition(".")
    if agent is not None and name not in known:
        raise UserError(f"no eval data for agent {name!r}; use one of {', '.join(known)}.")
    if task:
        cases = [c for c in load_cases(name) if c.task == task]
        if not cases:
            tasks = sorted({c.task for c in load_cases(name)})
            raise UserError(f"agent {name!r} has no eval data for task {task!r}; use "
                            f"{name} or one of {', '.join(f'{name}.{t}' for t in tasks)}.")
        return cases
    out: list[Case] = []
    for path in _files():
        if agent is not None and path.name.split(".", 1)[0] != agent:
            continue
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                out.append(Case(**{k: raw[k] for k in Case.__slots__ if k in raw}))
            except (ValueError, TypeError, KeyError) as exc:
                raise UserError(f"eval data {path.name} line {n} is not a valid case ({exc}); "
                                f"fix the file or regenerate it.") from exc
    return out


def sample(cases: list[Case], per_dataset: int | None) -> list[Case]:
    """At most `per_dataset` cases of each dataset, alternating labels so a small sample
    still has known-good and known-bad diffs (deterministic: file order)."""
    if not per_dataset:
        return cases
    by_set: dict[str, dict[str | None, list[Case]]] = {}
    for c in cases:
        by_set.setdefault(c.dataset, {}).setdefault(c.label, []).append(c)
    keep: set[str] = set()
    for groups in by_set.values():
        queues = [list(v) for _, v in sorted(groups.items(), key=lambda kv: str(kv[0]))]
        picked = 0
        while picked < per_dataset and any(queues):
            for q in queues:
                if q and picked < per_dataset:
                    keep.add(q.pop(0).id)
                    picked += 1
    return [c for c in cases if c.id in keep]
