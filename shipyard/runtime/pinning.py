"""G7 merges exactly the head a human approved at G6, or nothing.

The approval row names (and signs) the commit under review. Between that
approval and the merge only shipyard's own release-notes commit may land on
the run branch; anything else — a commit by another process, a moved branch,
a rewritten history — makes G7 refuse, naming what moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import RunError
from .workspace import Git

__all__ = ["approved_head", "check_pinned"]


def approved_head(ledger: Any, decisions: Iterable[dict[str, Any]], gate: str = "G6") -> str | None:
    """The head named by the last `approve` at `gate` (None when no approval names one)."""
    for d in reversed(list(decisions)):
        if d.get("gate") == gate and d.get("decision") == "approve":
            row = ledger.get("approvals", d["approval_id"]) if d.get("approval_id") else None
            return (row or {}).get("head")
    return None


def check_pinned(git: Git, approved: str, head: str, *, allowed: set[str], run_id: str) -> None:
    """`head` is `approved`, or `approved` plus one commit touching only `allowed` paths."""
    if head == approved:
        return
    parent = git.run("rev-parse", "--verify", "--quiet", f"{head}^", check=False).strip()
    changed = set(git.run("diff", "--name-only", "--no-renames", "-z", approved, head,
                          check=False).split("\0")) - {""}
    if parent != approved or not changed <= allowed:
        extra = sorted(changed - allowed)[:5]
        raise RunError(f"the run branch moved after the G6 approval: approved {approved[:12]}, "
                       f"now {head[:12]}{' (changes ' + ', '.join(extra) + ')' if extra else ''}; "
                       f"nothing was merged. Review the new commits and start a new run, or "
                       f"reset shipyard/{run_id} to {approved[:12]} and "
                       f"`shipyard resume {run_id}`.")
