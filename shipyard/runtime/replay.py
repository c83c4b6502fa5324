"""`replay:RUN-ID` — answer every call with what the model answered in an earlier run.

For audits and regression checks: the n-th call of (agent, task) gets the n-th
reply that run recorded in this repository's ledger (attempts that failed with
no reply are skipped), so the same pipeline can be re-driven without any model. A call the
recorded run never made is an error naming it, never an invented reply, and so is a call
whose prompt differs from the recorded one (a prompt edit, a changed context): a golden
run then diverges loudly at its first differing call instead of replaying stale answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ModelError
from .models import ModelRequest, RawReply

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ReplayBackend"]


@dataclass
class ReplayBackend:
    ledger: Ledger
    source_run: str
    provider: str = "replay"

    @property
    def model(self) -> str:
        return f"replay:{self.source_run}"

    @classmethod
    def from_spec(cls, spec: str, ledger: Ledger | None) -> ReplayBackend:
        run_id = spec.removeprefix("replay:").strip()
        if ledger is None or run_id not in ledger.run_ids():
            raise ConfigError(f"cannot replay run {run_id!r}: it is not in this repository's "
                              f"ledger (`shipyard runs` lists the runs you can replay).")
        return cls(ledger=ledger, source_run=run_id)

    @property
    def request_params(self) -> dict[str, Any]:
        return {"backend": "replay", "source_run": self.source_run}

    def request(self, req: ModelRequest) -> RawReply:
        rows = self.ledger.rows("llm_calls", run_id=self.source_run,
                                where="agent = ? AND task = ? AND response IS NOT NULL",
                                params=[req.agent, req.task])
        # call_index counts this run's earlier calls of (agent, task), invalid replies and
        # their repairs included, which is exactly how the recorded run's rows line up.
        index = req.call_index
        if index >= len(rows):
            raise ModelError(f"run {self.source_run} recorded {len(rows)} repl(ies) for "
                             f"{req.agent}.{req.task}; this run asked for number {index + 1}.")
        row = rows[index]
        diff = _first_difference(_recorded_messages(row), req.messages)
        if diff is not None:
            raise ModelError(
                f"replay of run {self.source_run} diverged at {req.agent}.{req.task} call "
                f"{index + 1} (ledger seq {row['seq']}, prompt {row.get('prompt_id')} "
                f"{row.get('prompt_version')}): {diff}. The prompt or its context changed "
                f"since the recording; record a new golden run if the change is intended.")
        # A recorded continuation is replayed as one (the gateway joins it to the prefill),
        # and only after the same prefill: after another, it would be a different reply.
        prefill = _recorded_prefill(row)
        if prefill and prefill != req.prefill:
            raise ModelError(
                f"replay of run {self.source_run} diverged at {req.agent}.{req.task} call "
                f"{index + 1} (ledger seq {row['seq']}): the recorded reply continues "
                f"{prefill[:80]!r}, this call starts its reply with {req.prefill[:80]!r}.")
        return RawReply(content=row["response"], input_tokens=row["input_tokens"] or 0,
                        output_tokens=row["output_tokens"] or 0, model=self.model,
                        finish_reason="replay", continued=bool(prefill))


def _recorded_prefill(row: dict[str, Any]) -> str:
    import json

    try:
        return str((json.loads(row.get("params") or "{}") or {}).get("prefill") or "")
    except (ValueError, AttributeError):
        return ""


def _recorded_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    import json

    try:
        return list(json.loads(row.get("messages") or "[]"))
    except ValueError:
        return []


def _first_difference(recorded: list[dict[str, str]], now: list[dict[str, str]]) -> str | None:
    """Where two prompts first differ, as a short readable note; None when they are equal."""
    if recorded == now:
        return None
    for i, (old, new) in enumerate(zip(recorded, now)):
        if old == new:
            continue
        a, b = old.get("content", "").splitlines(), new.get("content", "").splitlines()
        for n, (x, y) in enumerate(zip(a, b), 1):
            if x != y:
                return (f"message {i + 1} ({new.get('role')}) line {n}: recorded "
                        f"{x[:120]!r}, now {y[:120]!r}")
        return (f"message {i + 1} ({new.get('role')}) has {len(b)} lines, the recording "
                f"{len(a)}")
    return f"{len(now)} messages, the recording {len(recorded)}"
