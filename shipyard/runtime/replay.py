"""`replay:RUN-ID` — answer every call with what the model answered in an earlier run.

For audits and regression checks: the n-th call of (agent, task) gets the n-th
reply that run recorded in this repository's ledger (attempts that failed with
no reply are skipped), so the same pipeline can be re-driven without any model. A call the
recorded run never made is an error naming it, never an invented reply.
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
        return RawReply(content=row["response"], input_tokens=row["input_tokens"] or 0,
                        output_tokens=row["output_tokens"] or 0, model=self.model,
                        finish_reason="replay")
