"""What stopped a run mid-way, in plain words, and what `resume` would do about it.

A node that raises — a model reply still invalid after its repair attempt, the budget, a
provider error, a crashed tool — leaves its task pending in the checkpoint, so `resume`
re-runs exactly that step (of the parallel reviews, only those that failed). The runner
records the failure as a `node_failed` event and gives the run G8's bookkeeping (DORA and
cost rows, `run_ended`, the postmortem stub) without moving the graph past the step.
A run whose process died (kill -9, power cut) has no such event: it was interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ShipyardError

__all__ = ["Stop", "failure_of", "postmortem_path", "stop_of"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Stop:
    """Why a run's graph stopped before its end."""

    gate: str | None
    nodes: tuple[str, ...]         # the step(s) `resume` re-runs
    reason: str                    # what failed and what `resume` would do, in plain words
    error: str = ""                # "ModelOutputInvalid: …"; empty for an interruption
    extra: dict[str, Any] = field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        """The `node_failed` event's data: enough to say all this in a later process."""
        return {"nodes": list(self.nodes), "error": self.error, "reason": self.reason}


def postmortem_path(root: Path, run_id: str) -> Path:
    return root / ".shipyard" / "runs" / run_id / "postmortem.md"


def failure_of(run_id: str, snap: Any, exc: BaseException) -> Stop:
    """The failure `exc` left in the checkpoint `snap` (read right after the node raised)."""
    failed = [t.name for t in snap.tasks or () if t.error is not None]
    nodes = tuple(dict.fromkeys(failed or snap.next))
    gate, step = _step(nodes, snap.values.get("gate"))
    error = f"{type(exc).__name__}: {exc}"
    cause = str(exc) if isinstance(exc, ShipyardError) else f"it crashed with {error}"
    return Stop(gate=gate, nodes=nodes, error=error,
                reason=f"{step[:1].upper()}{step[1:]} failed: {cause} `shipyard resume {run_id}` "
                       f"re-runs that step ({', '.join(nodes)}) with shipyard.toml and the "
                       f"models as they are then; everything before it is kept.")


def stop_of(ledger: Any, root: Path, run_id: str, snap: Any) -> Stop:
    """Why a run with pending steps and no pending approval is stopped: the failure recorded
    last, unless a `resume` came after it — then its process died on the way."""
    rows = ledger.rows("events", run_id=run_id, where="kind IN ('node_failed', 'resumed')")
    nodes = tuple(snap.next)
    extra: dict[str, Any] = {"resumable": True, "next": list(nodes)}
    if not rows or rows[-1]["kind"] != "node_failed":
        gate, step = _step(nodes, snap.values.get("gate"))
        return Stop(gate=gate, nodes=nodes, extra=extra,
                    reason=f"interrupted before {', '.join(nodes)} ({step}): the process "
                           f"driving the run stopped; `shipyard resume {run_id}` continues "
                           f"from there.")
    data = json.loads(rows[-1]["data"] or "{}")
    return Stop(gate=rows[-1]["gate"], nodes=nodes, error=data.get("error", ""),
                reason=data.get("reason") or f"failed before {', '.join(nodes)}: "
                       f"{data.get('error')}; `shipyard resume {run_id}` re-runs it.",
                extra={**extra, "error": data.get("error", ""),
                       "postmortem": str(postmortem_path(root, run_id))})


def _step(nodes: Sequence[str], gate: str | None) -> tuple[str | None, str]:
    from .graphs.feature import NODE_STEPS

    if not nodes or nodes[0] not in NODE_STEPS:
        return gate, f"step {', '.join(nodes) or '(unknown)'}"
    return NODE_STEPS[nodes[0]]
