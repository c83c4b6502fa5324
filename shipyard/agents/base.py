"""What every agent is: a role, a prompt file, and one output schema per task.

Agents are pure apart from the one gateway call: they build messages from
their prompt file, ask the gateway for a validated pydantic object, and
return it. They never touch git, files or the ledger themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ._prompts import render

if TYPE_CHECKING:
    from ..runtime.models import Gateway

__all__ = ["AgentTask", "FileEdit", "Review", "ReviewFinding", "Strict"]

T = TypeVar("T", bound=BaseModel)

Severity = Literal["low", "medium", "high", "critical"]


class Strict(BaseModel):
    # Unknown keys are ignored: small models add chatter fields; the schema bounds
    # (maxLength / maxItems) keep grammar-constrained generation finite.
    model_config = ConfigDict(extra="ignore")


class FileEdit(Strict):
    path: str = Field(..., min_length=1, max_length=200,
                      description="Repository-relative POSIX path, e.g. src/pkg/mod.py")
    content: str = Field(..., max_length=16000, description="The complete new file content.")


class ReviewFinding(Strict):
    severity: Severity = "medium"
    path: str | None = Field(None, max_length=200)
    line: int | None = None
    message: str = Field(..., max_length=300)


class Review(Strict):
    # Tight bounds: six of these run per round, and on the embedded model every token costs.
    verdict: Literal["approve", "block"]
    summary: str = Field(..., max_length=500)
    findings: list[ReviewFinding] = Field(default_factory=list, max_length=5)


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentTask(Generic[T]):
    """One thing an agent does: `role` + `task` name a prompt section, `output` its schema."""

    role: str
    task: str
    output: type[T]

    def run(self, gateway: Gateway, *, gate: str, **context: Any) -> T:
        from ..runtime.models import PromptInfo

        prompt, messages = render(self.role, self.task, **context)
        reply = gateway.complete(self.role, messages, schema=self.output, task=self.task,
                                 gate=gate, prompt=PromptInfo(id=prompt.id, version=prompt.version))
        assert reply.parsed is not None  # the gateway raises rather than return unparsed
        return reply.parsed  # type: ignore[return-value]
