"""MODEL_CARD.md and PROMPT_CARDS.md: the prompts' front matter and the release's scores.

Written by `shipyard release` only after the suite held every threshold, so a card's
numbers are the ones the release was judged on (the suite id names the ledger rows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings
    from .suite import MetricResult, SuiteResult

__all__ = ["model_card", "prompt_cards"]

_ROLES = ("planner", "implementer", "security", "test", "sre", "governance", "finops", "docs")


def _score(r: MetricResult) -> str:
    if r.score is None:
        return f"skipped ({r.skipped})"
    bound = "≥" if r.higher_is_better else "≤"
    return f"{r.score:.3f} ({bound} {r.threshold}, n={r.n}) {'pass' if r.passed else 'FAIL'}"


def _scores(suite: SuiteResult, agent: str) -> list[str]:
    rows = [r for r in suite.results if r.agent == agent]
    return [f"| {r.metric} | {_score(r)} |" for r in rows] or ["| (no cases) | |"]


def model_card(version: str, settings: Settings, suite: SuiteResult) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [f"# Model card — shipyard {version}", "",
             (f"Released {when}; eval suite `{suite.suite_id}` (model `{suite.model}`, "
             f"{len(suite.cases)} cases, {suite.wall_s:.0f} s), stored in the ledger's "
             "`evals` table."), "", "## Models per agent", "", "| agent | model |", "| --- | --- |"]
    lines += [f"| {role} | `{settings.models.for_agent(role)}` |" for role in _ROLES]
    lines += [f"| judge | `{settings.models.judge or 'none (LLM-judged metrics skipped)'}` |",
              "", "## Intended use and limits", "",
              ("Agents propose; code and humans decide. Gates G0, G1 and G6 ask a human; a "
              "failing blocking tool check blocks whatever a model says; a review block "
              "counts only when grounded in the diff. Scores below are on the suite's "
              "labelled data (real commits with planted defects for reviewers) and red-team "
              "cases; they do not certify behaviour on other code."), "",
              "## Red team", "", "| metric | score |", "| --- | --- |", *_scores(suite, "redteam"),
              ""]
    return "\n".join(lines) + "\n"


def prompt_cards(version: str, suite: SuiteResult) -> str:
    import yaml

    lines = [f"# Prompt cards — shipyard {version}", "",
             (f"From each prompt's front matter (`shipyard/prompts/*.md`) and eval suite "
             f"`{suite.suite_id}` (model `{suite.model}`)."), ""]
    for path in sorted(resources.files("shipyard.prompts").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".md"):
            continue
        card = yaml.safe_load(path.read_text("utf-8").split("---\n", 2)[1]) or {}
        role = path.name[:-3]
        lines += [f"## {card.get('id', role)} {card.get('version', '')}", "",
                  f"- owner: {card.get('owner', '')}",
                  f"- intended use: {card.get('intended_use', '')}",
                  f"- limitations: {card.get('limitations', '')}",
                  f"- eval set: `{card.get('eval_set', '')}`",
                  f"- prompt digest: `{suite.prompts.get(role, '')}`", "",
                  "| metric | score |", "| --- | --- |",
                  *_scores(suite, "redteam" if role == "team" else role), ""]
    return "\n".join(lines) + "\n"
