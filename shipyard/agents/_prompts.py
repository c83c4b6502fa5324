"""Prompt files: a prompt card in YAML front matter, a system prompt, one section per task.

    ---
    id: planner
    version: 1.2.0
    owner: shipyard maintainers
    intended_use: ...
    eval_set: evals/planner.jsonl
    ---
    (system prompt)
    ## task: onepager
    (user prompt template for that task)

Templates render with Jinja `StrictUndefined`: a missing variable is an error,
not an empty string silently sent to a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["PromptFile", "load_prompt", "render"]

_TASK = re.compile(r"^## task: *([a-z0-9_]+) *$", re.MULTILINE)
_REQUIRED_CARD = ("id", "version", "owner", "intended_use")


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptFile:
    card: dict[str, Any]
    system: str
    tasks: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.card["id"])

    @property
    def version(self) -> str:
        return str(self.card["version"])


@cache
def load_prompt(role: str) -> PromptFile:
    import yaml

    text = resources.files("shipyard.prompts").joinpath(f"{role}.md").read_text("utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"prompt {role}.md has no front matter (prompt card)")
    _, front, body = text.split("---\n", 2)
    card = yaml.safe_load(front) or {}
    missing = [k for k in _REQUIRED_CARD if k not in card]
    if missing:
        raise ValueError(f"prompt card of {role}.md lacks {missing}")
    parts = _TASK.split(body)
    system, rest = parts[0].strip(), parts[1:]
    tasks = {rest[i]: rest[i + 1].strip() for i in range(0, len(rest), 2)}
    return PromptFile(card=card, system=system, tasks=tasks)


@cache
def _env() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


@cache
def _templates(role: str, task: str) -> tuple[Any, Any]:
    prompt = load_prompt(role)
    if task not in prompt.tasks:
        raise KeyError(f"prompt {role}.md has no '## task: {task}' section")
    env = _env()
    return env.from_string(prompt.system), env.from_string(prompt.tasks[task])


def render(role: str, task: str, **context: Any) -> tuple[PromptFile, list[dict[str, str]]]:
    system, user = _templates(role, task)
    return load_prompt(role), [{"role": "system", "content": system.render(**context)},
                               {"role": "user", "content": user.render(**context)}]
