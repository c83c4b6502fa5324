"""The model gateway: the only place a model is called (DESIGN invariant 1).

`Gateway.complete(agent, messages, schema=...)` picks the agent's backend from
configuration, checks the budget, calls the model with jittered-backoff retries
of transient errors only, writes one ledger row per attempt *before* the reply
is used, validates structured output with pydantic (one repair attempt that
shows the model its validation error), prices the call and traces it.

Backends (chosen by the model string):

- ``scripted:FILE``              canned replies per agent (tests, demos)
- ``replay:RUN-ID``               the replies an earlier run recorded (audits)
- ``local`` / ``local:PATH.gguf`` the embedded llama.cpp server (see `local.py`)
- ``gpt-4o-mini``, ``openai/...`` any OpenAI-compatible endpoint via langchain-openai
- ``anthropic/...`` etc.          any other litellm provider, in-process
- ``NAME:...``                    a plugin's backend (entry-point group ``shipyard.models``)

This module is the gateway; it re-exports the request/reply types (`_model_types`), the
backends (`_model_backends`) and the reply-text helpers (`_model_text`) it is built on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..errors import BudgetExceeded, ModelError, ModelOutputInvalid
from ._model_backends import LiteLLMBackend, LocalBackend, OpenAICompatBackend, resolve_backend
from ._model_text import (
    _json_schema,
    _validation_summary,
    _with_schema_instruction,
    clean_text,
    extract_json,
    parse_reply,
)
from ._model_types import (
    Backend,
    Message,
    ModelRequest,
    PromptInfo,
    RawReply,
    Reply,
    TransientModelError,
)

if TYPE_CHECKING:
    from ..config import ModelsConfig
    from .ledger import Ledger

__all__ = [
    "Backend",
    "Gateway",
    "LiteLLMBackend",
    "LocalBackend",
    "ModelRequest",
    "OpenAICompatBackend",
    "PromptInfo",
    "RawReply",
    "Reply",
    "TransientModelError",
    "clean_text",
    "extract_json",
    "parse_reply",
    "resolve_backend",
]


# -- the gateway -----------------------------------------------------------------------------
@dataclass
class Gateway:
    """One per run (and process); cheap to build, backends are created on first use."""

    models: ModelsConfig
    ledger: Ledger
    run_id: str
    budget_usd: float = 0.0
    repo: Path | None = None
    sleep: Callable[[float], None] = time.sleep
    retry_backoff_s: float = 1.0
    _backends: dict[str, Backend] = field(default_factory=dict)

    def backend_for(self, agent: str) -> Backend:
        spec = self.models.for_agent(agent)
        if spec not in self._backends:
            self._backends[spec] = resolve_backend(spec, self.models, repo=self.repo,
                                                   ledger=self.ledger, run_id=self.run_id)
        return self._backends[spec]

    def complete(
        self,
        agent: str,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        task: str = "default",
        gate: str | None = None,
        prompt: PromptInfo | None = None,
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        prefill: str = "",
    ) -> Reply:
        """`temperature` / `max_tokens` override the configured ones for this call (sampling
        candidates, short verdicts); both are recorded with the call. `prefill` is the start
        of a plain-text reply, written by code: a backend that continues replies generates
        only the rest (the embedded model copying a docstring back costs ~30 ms a token),
        and either way the reply's content starts as the model's whole answer would."""
        from .redact import redact

        backend = self.backend_for(agent)
        # Nothing that looks like a secret leaves the machine: diffs and files shown to
        # reviewers may contain the very key the secrets check is about to flag.
        msgs = [{k: redact(v) for k, v in m.items()} for m in messages]
        json_schema = _json_schema(schema) if schema else None
        if json_schema is not None:
            msgs = _with_schema_instruction(msgs, json_schema)
        limits = {"temperature": temperature, "max_tokens": max_tokens,
                  "prefill": "" if schema else prefill}
        first = self._call_with_retries(backend, agent, task, gate, prompt, msgs, json_schema,
                                        schema, tools, limits=limits)
        if schema is None:
            return first
        if first.parsed is not None:
            return first
        # One repair attempt: show the model what was wrong (pydantic-ai's ModelRetry idea).
        repair = msgs + [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": (
                "Your reply did not validate: " + _last_error(self.ledger, first) +
                ". Reply again with only the corrected JSON object.")},
        ]
        second = self._call_with_retries(backend, agent, task, gate, prompt, repair,
                                         json_schema, schema, tools, limits=limits,
                                         attempt_offset=first.attempts)
        if second.parsed is None:
            raise ModelOutputInvalid(
                f"{agent} ({backend.model}) returned output that does not match "
                f"{schema.__name__} even after one repair attempt; the raw reply is in the "
                f"ledger (`shipyard log {self.run_id}`). Try a stronger model for {agent} "
                f"in shipyard.toml [models].", raw=second.content)
        return Reply(**{**_reply_fields(second), "attempts": first.attempts + second.attempts,
                        "ledger_ids": first.ledger_ids + second.ledger_ids})

    # -- internals --------------------------------------------------------------------------
    def _check_budget(self, agent: str) -> None:
        if self.budget_usd <= 0:
            return  # 0 disables the cap
        spent = self.ledger.spent_usd(self.run_id)
        if spent >= self.budget_usd:
            self.ledger.event(self.run_id, "budget_exceeded", agent=agent, spent_usd=spent,
                              budget_usd=self.budget_usd)
            raise BudgetExceeded(
                f"run {self.run_id} has spent ${spent:.4f} of its ${self.budget_usd:.2f} "
                f"budget; raise [budget] usd in shipyard.toml (or SHIPYARD_BUDGET__USD) "
                f"and `shipyard resume {self.run_id}`.")

    def _call_with_retries(self, backend: Backend, agent: str, task: str, gate: str | None,
                           prompt: PromptInfo | None, msgs: list[Message],
                           json_schema: dict[str, Any] | None, schema: type[BaseModel] | None,
                           tools: list[dict[str, Any]] | None,
                           limits: dict[str, Any] | None = None,
                           attempt_offset: int = 0) -> Reply:
        from tenacity import (
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_random_exponential,
        )

        from . import metrics

        retrying = Retrying(
            stop=stop_after_attempt(self.models.max_retries + 1),
            wait=wait_random_exponential(multiplier=self.retry_backoff_s,
                                         max=max(self.retry_backoff_s * 30, 0.01)),
            retry=retry_if_exception_type(TransientModelError),
            sleep=self.sleep,
            reraise=True,
        )
        ids: list[str] = []
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    if attempts > 1:
                        metrics.record_retry(agent=agent, model=backend.model)
                    reply = self._attempt(backend, agent, task, gate, prompt, msgs, json_schema,
                                          schema, tools, attempt_offset + attempts, ids,
                                          limits or {})
        except TransientModelError as exc:
            raise ModelError(
                f"{agent}: {backend.provider} model {backend.model} kept failing after "
                f"{attempts} attempts: {exc}. Check the provider's status, or raise "
                f"[models] max_retries.") from exc
        return Reply(**{**_reply_fields(reply), "attempts": attempts, "ledger_ids": tuple(ids)})

    def _attempt(self, backend: Backend, agent: str, task: str, gate: str | None,
                 prompt: PromptInfo | None, msgs: list[Message],
                 json_schema: dict[str, Any] | None, schema: type[BaseModel] | None,
                 tools: list[dict[str, Any]] | None, attempt: int, ids: list[str],
                 limits: dict[str, Any]) -> Reply:
        from .pricing import cost_usd
        from .telemetry import current_trace_id, llm_span

        self._check_budget(agent)
        call_index = self.ledger.count("llm_calls", run_id=self.run_id,
                                       where="agent = ? AND task = ?", params=[agent, task])
        req = ModelRequest(messages=msgs, schema=json_schema,
                           schema_name=schema.__name__ if schema else None,
                           temperature=_pick(limits.get("temperature"), self.models.temperature),
                           max_tokens=min(_pick(limits.get("max_tokens"), self.models.max_tokens),
                                          self.models.max_tokens),
                           timeout_s=self.models.timeout_s, agent=agent, task=task,
                           call_index=call_index, tools=tools,
                           prefill=limits.get("prefill") or "")
        params = {"model": backend.model, "temperature": req.temperature,
                  "max_tokens": req.max_tokens, "timeout_s": req.timeout_s,
                  "schema": req.schema_name, **backend.request_params}
        describe = getattr(backend, "describe", None)
        if describe is not None:  # the exact request shape, e.g. the grammar's response_format
            params.update(describe(req))
        row: dict[str, Any] = {"agent": agent, "task": task, "gate": gate, "model": backend.model,
                                   "provider": backend.provider, "messages": msgs, "params": params,
                                   "tools": tools, "attempt": attempt,
                                   "prompt_id": prompt.id if prompt else None,
                                   "prompt_version": prompt.version if prompt else None}
        start = time.perf_counter()
        # The row is written inside the span: it carries the span's ids, the span the row's id.
        with llm_span(agent=agent, model=backend.model, provider=backend.provider,
                      temperature=req.temperature, max_tokens=req.max_tokens,
                      run_id=self.run_id) as span:
            try:
                raw = backend.request(req)
            except ModelError as exc:
                span.error(exc)
                written = self.ledger.append("llm_calls", run_id=self.run_id, **row,
                                             latency_s=time.perf_counter() - start,
                                             error=f"{type(exc).__name__}: {exc}",
                                             trace_id=current_trace_id())
                span.ledger_row(written["id"])
                ids.append(written["id"])
                raise
            latency = time.perf_counter() - start
            cost = cost_usd(raw.model or backend.model, raw.input_tokens, raw.output_tokens,
                            custom=self.models.custom_prices())
            span.record(input_tokens=raw.input_tokens, output_tokens=raw.output_tokens,
                        finish_reasons=[raw.finish_reason] if raw.finish_reason else None,
                        cost_usd=cost)
            parsed, error = None, None
            if raw.continued:  # the ledger keeps what the model wrote, and what code wrote
                params["prefill"] = req.prefill  # before it (a whole reply had none)
            content = clean_text(req.prefill + raw.content if raw.continued else raw.content,
                                 msgs)
            if schema is not None and raw.finish_reason == "length":
                error = (f"invalid output: the reply hit the {req.max_tokens}-token limit and "
                         f"was cut off; reply shorter")
            elif schema is not None:
                try:
                    parsed = parse_reply(schema, content)
                except ValidationError as exc:
                    error = "invalid output: " + _validation_summary(exc)
            written = self.ledger.append(
                "llm_calls", run_id=self.run_id, **row, response=raw.content,
                parsed=parsed.model_dump(mode="json") if parsed else None,
                input_tokens=raw.input_tokens, output_tokens=raw.output_tokens, cost_usd=cost,
                latency_s=latency, error=error, trace_id=current_trace_id())
            span.ledger_row(written["id"])
        ids.append(written["id"])
        return Reply(content=content, parsed=parsed, input_tokens=raw.input_tokens,
                     output_tokens=raw.output_tokens, cost_usd=cost, model=raw.model or backend.model,
                     latency_s=latency, attempts=1, ledger_ids=(written["id"],),
                     finish_reason=raw.finish_reason)


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _reply_fields(r: Reply) -> dict[str, Any]:
    return {k: getattr(r, k) for k in Reply.__slots__}


def _last_error(ledger: Ledger, reply: Reply) -> str:
    row = ledger.get("llm_calls", reply.ledger_ids[-1]) or {}
    return (row.get("error") or "the reply was not a JSON object").removeprefix("invalid output: ")
