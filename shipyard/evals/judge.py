"""The judge of LLM-judged metrics: deepeval's model interface over shipyard's gateway.

A judge's calls are model calls like any other: redacted, budget-free but recorded in
the ledger under the suite's judge run id, through the backend `[models] judge` names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .metrics import deepeval

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime.ledger import Ledger

__all__ = ["GatewayJudge"]


def GatewayJudge(settings: Settings, ledger: Ledger, run_id: str, repo: Path) -> Any:
    """A `DeepEvalBaseLLM` whose generate() goes through the gateway as agent `judge`."""
    from ..runtime.models import Gateway

    deepeval()  # telemetry and .env off before anything of deepeval loads
    from deepeval.models import DeepEvalBaseLLM as base

    models = settings.models.model_copy(update={"default": settings.models.judge})
    gateway = Gateway(models=models, ledger=ledger, run_id=run_id, repo=repo)

    class _Judge(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.name = str(settings.models.judge)
            self.model = None

        def load_model(self, *args: Any, **kwargs: Any) -> Any:
            return None

        def generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> Any:
            reply = gateway.complete("judge", [{"role": "user", "content": prompt}],
                                     schema=schema, task="judge", gate="eval")
            return reply.parsed if schema is not None else reply.content

        async def a_generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> Any:
            return self.generate(prompt, schema=schema)

        def get_model_name(self, *args: Any, **kwargs: Any) -> str:
            return self.name

    return _Judge()
