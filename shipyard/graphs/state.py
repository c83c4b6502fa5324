"""FeatureState: what the feature graph checkpoints between nodes.

Only JSON-able values live here (agent outputs are stored as `model_dump()`
dicts), so any checkpointer — SQLite here, PostgreSQL on a server — can hold
it without custom serializers.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

__all__ = ["FeatureState", "merge_dicts", "merge_lists"]


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for keyed results written in parallel (one key per reviewer)."""
    return {**(left or {}), **(right or {})}


def merge_lists(left: dict[str, list[str]] | None,
                right: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """Reducer that appends per key: revision comments accumulate per stage."""
    out = {k: list(v) for k, v in (left or {}).items()}
    for k, v in (right or {}).items():
        out.setdefault(k, []).extend(v)
    return out


class FeatureState(TypedDict, total=False):
    # identity (set once by the runner)
    run_id: str
    feature: str
    repo: str
    base_branch: str
    base_sha: str
    worktree: str
    started_at: str
    # progress
    status: str            # running | merged | rejected | failed
    reason: str            # why the run ended the way it did
    gate: str              # the gate the run is at / ended at
    # artifacts of the stages (agent outputs as dicts)
    onepager: dict[str, Any]
    scope: dict[str, Any]
    planning: str          # brief | full: how much planning G0 decided the request gets
    rfc: dict[str, Any]
    threats: dict[str, Any]
    forecast: dict[str, Any]
    guardrails: list[dict[str, Any]]
    test_plan: dict[str, Any]
    acceptance: dict[str, Any]  # {path, imports, cases[{call, expected, source}], disputed,
    #                             returns_strings, confirmed}
    delivery: dict[str, Any]
    adr_path: str
    # build loop
    head: str
    fix_round: int
    inner: dict[str, Any]       # the G5 inner loop's outcome: {green, reasons}
    findings: list[str]
    refusals: list[str]
    checks: list[dict[str, Any]]
    review_diff: str            # what the G5 reviewers read (computed once per round)
    review_files: list[str]
    untested: list[str]    # functions the change defines that no test names (G5 evidence)
    reviews: Annotated[dict[str, dict[str, Any]], merge_dicts]
    g5_verdict: str
    final_checks: list[dict[str, Any]]
    # humans
    revisions: Annotated[dict[str, list[str]], merge_lists]
    decisions: Annotated[list[dict[str, Any]], operator.add]
    last_decision: dict[str, Any]
    # launch
    merge_sha: str
    artifacts: Annotated[dict[str, str], merge_dicts]
