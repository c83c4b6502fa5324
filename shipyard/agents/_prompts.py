"""Prompt files: a prompt card in YAML front matter, a system prompt, one section per task.

    ---
    id: planner
    version: 1.2.0
    owner: shipyard maintainers
    intended_use: ...
    eval_set: evals/planner.jsonl
    ---
    (the role's instruction)
    ## task: onepager
    context: request
    (the task's instruction)

Every agent's messages share one layout, shared material first and the role's
instruction last: the system message is `team.md`'s (the same for every agent),
and the user message is the stage's shared context block (`## context: NAME` in
`team.md`, chosen by the task's `context:` line) followed by the role text and
the task text. A local server reuses the cached prefix of consecutive requests,
so the six reviewers of a round pay for the diff once, not six times.

Templates render with Jinja `StrictUndefined`: a missing variable is an error,
not an empty string silently sent to a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["TEAM", "PromptFile", "load_prompt", "render"]

TEAM = "team"  # the shared system prompt and context blocks

_TASK = re.compile(r"^## task: *([a-z0-9_]+) *$", re.MULTILINE)
_CONTEXT = re.compile(r"^## context: *([a-z0-9_]+) *$", re.MULTILINE)
_CONTEXT_LINE = re.compile(r"\Acontext: *([a-z0-9_]+) *\n")
_SYSTEM_LINE = re.compile(r"\Asystem: *(.+?) *\n")
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
    parts = (_CONTEXT if role == TEAM else _TASK).split(body)
    system, rest = parts[0].strip(), parts[1:]
    tasks = {rest[i]: rest[i + 1].strip() for i in range(0, len(rest), 2)}
    return PromptFile(card=card, system=system, tasks=tasks)


@cache
def _env() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


@cache
def _templates(role: str, task: str) -> tuple[Any, Any, Any, str | None]:
    """(shared context, role text, task text, own system line or None) templates of one task.

    A task whose body starts with `system: …` is posed alone: that line is its system
    message and the task text its whole user message, with no shared context and no role
    text. It is for prompts measured to work best bare (the Implementer's `complete_plain`,
    which poses a stub as HumanEval does)."""
    prompt, team = load_prompt(role), load_prompt(TEAM)
    if task not in prompt.tasks:
        raise KeyError(f"prompt {role}.md has no '## task: {task}' section")
    body = prompt.tasks[task]
    env = _env()
    if own := _SYSTEM_LINE.match(body):
        return (env.from_string(""), env.from_string(""),
                env.from_string(body[own.end():]), own.group(1))
    m = _CONTEXT_LINE.match(body)
    name = m.group(1) if m else "request"
    if name not in team.tasks:
        raise KeyError(f"prompt {role}.md task {task} names context {name!r}, which team.md "
                       f"does not define (it has {sorted(team.tasks)})")
    return (env.from_string(team.tasks[name]), env.from_string(prompt.system),
            env.from_string(body[m.end():] if m else body), None)


def render(role: str, task: str, **context: Any) -> tuple[PromptFile, list[dict[str, str]]]:
    shared, role_text, task_text, system = _templates(role, task)
    user = "\n\n".join(part for part in (shared.render(**context).strip(),
                                          role_text.render(**context).strip(),
                                          task_text.render(**context).strip()) if part)
    return load_prompt(role), [{"role": "system", "content": system or load_prompt(TEAM).system},
                               {"role": "user", "content": user}]
