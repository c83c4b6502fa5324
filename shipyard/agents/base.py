"""What every agent is: a role, a prompt file, and one output schema per task.

Agents are pure apart from the one gateway call: they build messages from
their prompt file, ask the gateway for a validated pydantic object, and
return it. They never touch git, files or the ledger themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from ._prompts import render

if TYPE_CHECKING:
    from ..runtime.models import Gateway, Reply

__all__ = ["AgentTask", "Line", "Review", "ReviewFinding", "ReviewTask", "Strict", "TextTask",
           "brief_schema", "review_schema"]

T = TypeVar("T", bound=BaseModel)

# One item of a list of text (a criterion, a path, a change): bounded like every string an
# agent writes, so a model that loops inside one item is cut off by the grammar at the
# bound, not by the token limit (HumanEval 22: the Planner wrote one acceptance criterion
# until its 2,048 tokens ran out, twice, and the run failed at G0).
Line = Annotated[str, Field(max_length=200)]

Severity = Literal["low", "medium", "high", "critical"]


class Strict(BaseModel):
    # Unknown keys are ignored: small models add chatter fields; the schema bounds
    # (maxLength / maxItems) keep grammar-constrained generation finite.
    model_config = ConfigDict(extra="ignore")


class ReviewFinding(Strict):
    rule: str = Field("other", max_length=40)
    severity: Severity = "medium"
    path: str | None = Field(None, max_length=200)
    line: int | None = None
    message: str = Field(..., max_length=300)


class Review(Strict):
    # Tight bounds: up to six of these run per round, and on the embedded model every token
    # costs. A block counts only with a finding grounded in the diff (graphs/review.py).
    verdict: Literal["approve", "block"]
    summary: str = Field(..., max_length=300)
    findings: list[ReviewFinding] = Field(default_factory=list, max_length=3)


@cache
def review_schema(role: str, rules: tuple[str, ...]) -> type[Review]:
    """The review schema of one role: a finding's `rule` is one of the role's checklist items,
    and it must cite a path and a line (grounding is then checked by code against the diff)."""
    finding = create_model(
        f"{role.title()}Finding", __base__=Strict,
        rule=(Literal[rules], ...),  # type: ignore[valid-type]
        severity=(Severity, "medium"),
        path=(str, Field(..., max_length=200, description="a file in the diff")),
        line=(int, Field(..., description="a line number in that file's new version")),
        message=(str, Field(..., max_length=200)))
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{role.title()}Review", __base__=Review,
        verdict=(Literal["approve", "block"], ...),
        summary=(str, Field(..., max_length=200)),
        findings=(list[finding], Field(default_factory=list, max_length=3)))  # type: ignore[valid-type]


@cache
def brief_schema(output: type[T], fields: tuple[str, ...]) -> type[BaseModel]:
    """`output` cut down to `fields`: the grammar then lets the model write only those, so a
    small request's plan costs a third of the tokens. Every other field of `output` must
    have a default, which the brief answer takes when it is widened back."""
    missing = [n for n, f in output.model_fields.items() if n not in fields and f.is_required()]
    if missing:
        raise TypeError(f"{output.__name__}: fields {missing} have no default, so a brief "
                        "answer could not fill them; give them defaults or keep them brief")
    kept = {n: (f.annotation, f) for n, f in output.model_fields.items() if n in fields}
    return create_model(f"{output.__name__}Brief", __base__=Strict, **kept)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentTask(Generic[T]):
    """One thing an agent does: `role` + `task` name a prompt section, `output` its schema.

    `brief` names the fields a small request needs (graphs/scale.py decides, by code); with
    `run(brief=True)` only those are asked for and the rest keep their defaults."""

    role: str
    task: str
    output: type[T]
    brief: tuple[str, ...] = ()

    def run(self, gateway: Gateway, *, gate: str, max_tokens: int | None = None,
            brief: bool = False, temperature: float | None = None, **context: Any) -> T:
        from ..runtime.models import PromptInfo

        schema = brief_schema(self.output, self.brief) if brief and self.brief else self.output
        prompt, messages = render(self.role, self.task, **context)
        reply = gateway.complete(self.role, messages, schema=schema, task=self.task,
                                 gate=gate, prompt=PromptInfo(id=prompt.id, version=prompt.version),
                                 max_tokens=max_tokens, temperature=temperature)
        assert reply.parsed is not None  # the gateway raises rather than return unparsed
        if schema is self.output:
            return reply.parsed  # type: ignore[return-value]
        return self.output.model_validate(reply.parsed.model_dump())


@dataclass(frozen=True, kw_only=True, slots=True)
class ReviewTask:
    """A G5 review: the role's checklist is the schema's rule enum."""

    role: str
    rules: tuple[str, ...]

    @property
    def task(self) -> str:
        return "review"

    def run(self, gateway: Gateway, *, gate: str, **context: Any) -> Review:
        schema = review_schema(self.role, self.rules)
        return AgentTask(role=self.role, task="review", output=schema).run(
            gateway, gate=gate, max_tokens=400, checklist=", ".join(self.rules), **context)


@dataclass(frozen=True, kw_only=True, slots=True)
class TextTask:
    """A task whose output is plain text parsed by code (the Implementer's code blocks):
    code escaped inside JSON is worse code (DESIGN §5)."""

    role: str
    task: str
    section: str = ""  # the prompt's `## task:` section, when it is not the task's name

    def run(self, gateway: Gateway, *, gate: str, temperature: float | None = None,
            max_tokens: int | None = None, prefill: str = "", **context: Any) -> Reply:
        """`prefill`: the start of the reply, written by code (see `Gateway.complete`)."""
        from ..runtime.models import PromptInfo

        prompt, messages = render(self.role, self.section or self.task, **context)
        return gateway.complete(self.role, messages, task=self.task, gate=gate,
                                prompt=PromptInfo(id=prompt.id, version=prompt.version),
                                temperature=temperature, max_tokens=max_tokens,
                                prefill=prefill)
