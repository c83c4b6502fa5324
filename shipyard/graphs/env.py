"""RunEnv: the services a feature graph is built with (repo, settings, ledger, gateway).

Each process builds its own RunEnv; nothing here is checkpointed. The graph's
state holds only data, so a run paused in one process resumes in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime.ledger import Ledger
    from ..runtime.models import Gateway
    from ..runtime.workspace import Git, RunWorkspace

__all__ = ["RunEnv"]


@dataclass
class RunEnv:
    repo: Git
    settings: Settings
    ledger: Ledger
    progress: Any = None  # callable(str) for human-readable progress, or None
    retry_backoff_s: float = 1.0
    _gateways: dict[str, Gateway] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.repo.path

    def gateway(self, run_id: str) -> Gateway:
        from ..runtime.models import Gateway

        if run_id not in self._gateways:
            self._gateways[run_id] = Gateway(models=self.settings.models, ledger=self.ledger,
                                             run_id=run_id, budget_usd=self.settings.budget.usd,
                                             repo=self.repo.path,
                                             retry_backoff_s=self.retry_backoff_s)
        return self._gateways[run_id]

    def workspace(self, state: dict[str, Any], *, ensure: bool = True) -> RunWorkspace:
        """The run's worktree, re-created from its branch if it was deleted or lives under
        another SHIPYARD_HOME: a run never depends on the process that started it."""
        from ..runtime.workspace import RunWorkspace

        root = state.get("worktree")
        ws = RunWorkspace(repo=self.repo, run_id=state["run_id"], base_sha=state["base_sha"],
                          root=Path(root) if root else None)
        if ensure and not ws.exists():
            ws.ensure()
        return ws

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(message)
