"""Start, resume and decide runs: the orchestration every CLI command calls into.

A run is a LangGraph thread (thread_id = run id) checkpointed in
`<repo>/.shipyard/checkpoints.db`; its audit trail is `<repo>/.shipyard/ledger.db`.
Either survives the process: any later process can `resume`, `approve`,
`revise` or `reject` it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import runlock
from .errors import ApproverIsRequester, RunNotFound, RunStateConflict, UserError
from .text import validate_feature, validate_text

__all__ = ["EXIT", "Outcome", "Runner"]

EXIT = {"merged": 0, "approved": 0, "rejected": 1, "failed": 1, "blocked": 1, "waiting": 3,
        "running": 0}


@dataclass
class Outcome:
    run_id: str
    status: str                       # waiting | merged | rejected | failed
    gate: str | None = None
    reason: str = ""
    payload: dict[str, Any] | None = None  # the decision narrative when waiting
    merge_sha: str | None = None
    cost_usd: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT.get(self.status, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "gate": self.gate,
                "reason": self.reason, "merge_sha": self.merge_sha,
                "cost_usd": round(self.cost_usd, 6), "waiting_for": self.payload,
                "exit_code": self.exit_code, **self.extra}


class Runner:
    """All runs of one repository."""

    def __init__(self, repo: Path | str, *, progress: Callable[[str], None] | None = None,
                 retry_backoff_s: float | None = None) -> None:
        from .config import load_settings
        from .graphs.env import RunEnv
        from .runtime.ledger import Ledger
        from .runtime.workspace import Git

        git = Git.open_repo(repo)
        settings = load_settings(git.path)
        backoff = retry_backoff_s if retry_backoff_s is not None else float(
            os.environ.get("SHIPYARD_RETRY_BACKOFF_S", "1.0"))
        self.env = RunEnv(repo=git, settings=settings, ledger=Ledger.for_repo(git.path),
                          progress=progress, retry_backoff_s=backoff)
        self._graph: Any = None
        self._telemetry()

    def _telemetry(self) -> None:
        from .runtime import telemetry

        telemetry.configure(trace_file=self.env.root / ".shipyard" / "traces.jsonl")

    @property
    def ledger(self):
        return self.env.ledger

    @property
    def graph(self) -> Any:
        if self._graph is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            from .graphs.feature import build_feature_graph

            path = self.env.root / ".shipyard" / "checkpoints.db"
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            self._graph = build_feature_graph(self.env).compile(checkpointer=SqliteSaver(conn))
        return self._graph

    # -- commands ---------------------------------------------------------------------------
    def start(self, feature: str, *, who: str | None = None) -> Outcome:
        from .runtime.redact import redact_text

        # A key pasted into a request must reach no model provider, checkpoint or commit.
        feature = redact_text(validate_feature(feature))
        repo = self.env.repo
        repo.ensure_clean()
        base_branch = repo.current_branch()
        self._validate_models()
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        base_sha = repo.sha("HEAD")
        started = datetime.now(UTC).isoformat()
        from .runtime.workspace import RunWorkspace

        ws = RunWorkspace(repo=repo, run_id=run_id, base_sha=base_sha)
        self.ledger.append("runs", run_id=run_id, feature=feature, repo=str(repo.path),
                           base_branch=base_branch, base_sha=base_sha, branch=ws.branch,
                           worktree=str(ws.path), started_by=who or repo.user_email() or "unknown",
                           settings=self.env.settings.model_dump(mode="json"))
        self.env.say(f"run {run_id}: {feature[:80]}")
        with self._driving(run_id):
            return self._drive(run_id, self._initial_state(run_id, feature, base_branch,
                                                           base_sha, started, ws))

    def _initial_state(self, run_id: str, feature: str, base_branch: str, base_sha: str,
                       started: str, ws: Any) -> dict[str, Any]:
        repo = self.env.repo
        return {"run_id": run_id, "feature": feature, "repo": str(repo.path),
                 "base_branch": base_branch, "base_sha": base_sha, "started_at": started,
                 "worktree": str(ws.path),
                 "status": "running", "fix_round": 0}

    def resume(self, run_id: str) -> Outcome:
        self._snapshot(run_id)
        with self._driving(run_id):
            snap = self._snapshot(run_id)  # re-read under the lock
            if not snap.next or _pending_interrupt(snap):
                return self._outcome(run_id)  # finished, or waiting for a human
            self.ledger.event(run_id, "resumed", gate=snap.values.get("gate"))
            return self._drive(run_id, None)

    def decide(self, run_id: str, decision: str, *, comment: str = "", who: str | None = None,
               gate: str | None = None, background: bool = False) -> Outcome:
        """Record a human decision at the gate a run waits at, then drive the run on.

        `gate`: refuse unless the run waits at this gate (a page shown before the run moved
        must not approve the next gate). `background`: return once the decision is recorded
        (status "running") and drive on a thread that keeps the run's lock."""
        if decision not in ("approve", "revise", "reject"):
            raise UserError(f"unknown decision {decision!r}; use approve, revise or reject.")
        self._snapshot(run_id)
        lock = contextlib.ExitStack()
        lock.enter_context(self._driving(run_id))  # one decision per pause, even when two click
        with contextlib.ExitStack() as on_error:
            on_error.callback(lock.close)
            gate, resume = self._record_decision(run_id, decision, comment, who, gate)
            on_error.pop_all()
        if not background:
            with lock:
                return self._drive(run_id, resume)
        threading.Thread(target=self._drive_and_release, args=(run_id, resume, lock),
                         name=f"shipyard-drive-{run_id}", daemon=True).start()
        return Outcome(run_id=run_id, status="running", gate=gate,
                       reason=f"{decision} recorded at {gate}; the run goes on in the background",
                       cost_usd=self.ledger.spent_usd(run_id), extra={"pid": os.getpid()})

    def _drive_and_release(self, run_id: str, resume: Any, lock: contextlib.ExitStack) -> None:
        with lock:
            try:
                self._drive(run_id, resume)
            except UserError as exc:  # nobody waits on this thread: say it where it is seen
                self.ledger.event(run_id, "resume_refused", error=str(exc))

    def _record_decision(self, run_id: str, decision: str, comment: str, who: str | None,
                         expected_gate: str | None) -> tuple[str, Any]:
        """Check and record the decision (signed); returns the gate and the graph's resume."""
        from langgraph.types import Command

        snap = self._snapshot(run_id)
        pending = _pending_interrupt(snap)
        if pending is None:
            out = self._outcome(run_id)
            raise RunStateConflict(f"run {run_id} is not waiting for a decision (status: "
                                   f"{out.status}{', at ' + out.gate if out.gate else ''}).")
        comment = validate_text(comment, "comment")
        if who is not None:
            who = validate_text(who.strip(), "--as value")
        if decision == "revise" and not comment.strip():
            raise UserError("revise needs --comment saying what to change; it goes into the "
                            "stage owner's next prompt.")
        gate = pending.value.get("gate")
        if expected_gate and expected_gate != gate:
            raise RunStateConflict(f"run {run_id} now waits at {gate}, not {expected_gate}: "
                                   f"it moved on; read the {gate} evidence, then decide.")
        who = who or self.env.repo.user_email() or os.environ.get("USER") or "unknown"
        self._check_four_eyes(run_id, decision, who)
        row = self._record_approval(run_id, gate, decision, who, comment,
                                    head=snap.values.get("head"))
        self.env.say(f"{gate}: {decision} by {who}")
        return gate, Command(resume={"approval_id": row["id"]})

    def _check_four_eyes(self, run_id: str, decision: str, who: str) -> None:
        """`[gates] approver_must_differ_from_requester`: nobody approves their own request."""
        gates = self.env.settings.gates
        if decision != "approve" or not gates.approver_must_differ_from_requester:
            return
        started = self.ledger.rows("runs", run_id=run_id)
        requester = (started[0].get("started_by") or "") if started else ""
        if requester and requester.strip().lower() == who.strip().lower():
            raise ApproverIsRequester(
                f"{who} requested run {run_id} and may not approve it: shipyard.toml sets "
                f"[gates] approver_must_differ_from_requester; another person approves "
                f"(--as names them), or revise / reject it yourself.")

    def status(self, run_id: str) -> Outcome:
        self._snapshot(run_id)
        holder = self._driver(run_id)
        if holder is not None:
            snap = self._snapshot(run_id)
            return Outcome(run_id=run_id, status="running", gate=snap.values.get("gate"),
                           reason=f"being driven by process {holder} "
                                  f"(next: {', '.join(snap.next) or '-'})",
                           cost_usd=self.ledger.spent_usd(run_id), extra={"pid": holder})
        return self._outcome(run_id)

    # -- one driver per run (runlock.py) -----------------------------------------------------
    def _driving(self, run_id: str) -> contextlib.AbstractContextManager[None]:
        return runlock.driving(self.env.root, run_id)

    def _driver(self, run_id: str) -> int | None:
        return runlock.driver(self.env.root, run_id)

    def runs(self) -> list[dict[str, Any]]:
        out = []
        for row in self.ledger.rows("runs"):
            o = self.status(row["run_id"])
            out.append({"run_id": row["run_id"], "feature": row["feature"][:80],
                        "status": o.status, "gate": o.gate, "started": row["ts"],
                        "cost_usd": round(o.cost_usd, 6)})
        return out

    # -- internals --------------------------------------------------------------------------
    def _validate_models(self) -> None:
        """Fail before a run starts if a configured model cannot be built (exit 2)."""
        from .config import AGENT_ROLES
        from .runtime.models import resolve_backend

        for spec in {self.env.settings.models.for_agent(r) for r in AGENT_ROLES}:
            if spec == "local" or spec.startswith("local:"):
                from .runtime.local import parse_local_spec, resolve_gguf

                path, sha = parse_local_spec(spec)
                resolve_gguf(path, sha)  # the server itself starts on first use
                continue
            resolve_backend(spec, self.env.settings.models, repo=self.env.root,
                            ledger=self.ledger)

    def _record_approval(self, run_id: str, gate: str, decision: str, who: str,
                         comment: str, *, head: str | None) -> dict[str, Any]:
        from .runtime import keys
        from .runtime.ledger import approval_payload

        payload = approval_payload(run_id=run_id, gate=gate, decision=decision, who=who,
                                   comment=comment, head=head)
        # Signed with the user's key (kept outside the repo): `shipyard verify` finds an edited
        # approval, and the head it names is the only commit G7 will merge.
        signature, key_id = keys.sign(self.env.root, payload), keys.public_key_id(self.env.root)
        return self.ledger.append("approvals", run_id=run_id, gate=gate, decision=decision,
                                  who=who, comment=comment, head=head, signature=signature,
                                  key_id=key_id)

    def _config(self, run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": run_id}, "recursion_limit": 200}

    def _snapshot(self, run_id: str) -> Any:
        snap = self.graph.get_state(self._config(run_id))
        if not snap.values:
            known = self.ledger.run_ids()
            hint = f" Known runs: {', '.join(known[-5:])}." if known else " There are no runs yet."
            raise RunNotFound(f"no run {run_id!r} in {self.env.root}.{hint} "
                              f"(`shipyard runs` lists them.)")
        return snap

    def _drive(self, run_id: str, graph_input: Any) -> Outcome:
        from .runtime.telemetry import run_span

        parent, links = self._trace_before(run_id)
        try:
            with run_span(run_id, parent=parent, links=links):
                # The segment's ids: where a later resume joins this trace.
                self.ledger.event(run_id, "trace_segment", parent_span_id=parent and parent[1])
                for update in self.graph.stream(graph_input, self._config(run_id),
                                                stream_mode="updates", durability="sync"):
                    for node, value in update.items():
                        if node != "__interrupt__":
                            self.env.say(f"✓ {node}" + _short(value))
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 — any failure ends the run through G8
            return self._failed(run_id, exc)
        return self._outcome(run_id)

    def _trace_before(self, run_id: str) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
        """A resumed run joins its first drive's trace (as the parent of this drive's span)
        and links to the last spans before the interrupt: the last drive's root span and the
        span of its last ledger row."""
        rows = [r for _, r in self.ledger.timeline(run_id) if r.get("span_id")]
        segments = [r for r in rows if r.get("kind") == "trace_segment"]
        if not segments:
            return None, []
        first, last = segments[0], segments[-1]
        links = [(last["trace_id"], last["span_id"])]
        if rows[-1]["span_id"] != last["span_id"]:
            links.append((rows[-1]["trace_id"], rows[-1]["span_id"]))
        return (first["trace_id"], first["span_id"]), links

    def _failed(self, run_id: str, exc: Exception) -> Outcome:
        """A node raised: record what failed, take the run through G8, keep it resumable."""
        from .failure import failure_of

        snap = self.graph.get_state(self._config(run_id))
        if _pending_interrupt(snap) is not None:  # a refused decision: still waiting at its gate
            self.ledger.event(run_id, "resume_refused", error=f"{type(exc).__name__}: {exc}")
            out = self._outcome(run_id)
            out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"
            return out
        failure = failure_of(run_id, snap, exc)
        self.ledger.event(run_id, "node_failed", gate=failure.gate, **failure.event())
        if "g8_learn" not in failure.nodes:
            self._learn(run_id, {**snap.values, "status": "failed", "gate": failure.gate,
                                 "reason": failure.reason})
        return self._outcome(run_id)

    def _learn(self, run_id: str, state: dict[str, Any]) -> None:
        """G8 for a run a failure stopped: what the graph's g8_learn node does (DORA and cost
        rows, `run_ended`, the postmortem), while the failed step stays pending for resume."""
        from .graphs.nodes import Nodes

        try:
            Nodes(self.env).g8_learn(state)
        except Exception as exc:  # noqa: BLE001 — G8 must not hide the failure before it
            self.ledger.event(run_id, "g8_failed", gate="G8", error=f"{type(exc).__name__}: {exc}")

    def _outcome(self, run_id: str) -> Outcome:
        snap = self.graph.get_state(self._config(run_id))
        v = snap.values
        cost = self.ledger.spent_usd(run_id)
        pending = _pending_interrupt(snap)
        if pending is not None:
            return Outcome(run_id=run_id, status="waiting", gate=pending.value.get("gate"),
                           reason=f"waiting for approval at {pending.value.get('gate')}",
                           payload=pending.value, cost_usd=cost)
        status = v.get("status", "running")
        if snap.next and status == "running":
            from .failure import stop_of

            stop = stop_of(self.ledger, self.env.root, run_id, snap)
            return Outcome(run_id=run_id, status="failed", gate=stop.gate, reason=stop.reason,
                           cost_usd=cost, extra=stop.extra)
        return Outcome(run_id=run_id, status=status, gate=v.get("gate"),
                       reason=v.get("reason", ""), merge_sha=v.get("merge_sha"), cost_usd=cost)


def _pending_interrupt(snap: Any) -> Any:
    for task in snap.tasks or ():
        for intr in task.interrupts or ():
            return intr
    return None


def _short(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    bits = []
    if value.get("status") and value["status"] != "running":
        bits.append(value["status"])
    if value.get("g5_verdict"):
        bits.append(f"verdict {value['g5_verdict']}")
    if value.get("head"):
        bits.append(f"head {value['head'][:10]}")
    return f" ({', '.join(bits)})" if bits else ""
