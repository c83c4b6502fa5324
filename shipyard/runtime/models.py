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
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from ..errors import BudgetExceeded, ConfigError, ModelError, ModelOutputInvalid, UserError

if TYPE_CHECKING:
    from ..config import ModelsConfig
    from .ledger import Ledger

__all__ = [
    "Backend",
    "Gateway",
    "ModelRequest",
    "PromptInfo",
    "RawReply",
    "Reply",
    "TransientModelError",
    "clean_text",
    "extract_json",
    "resolve_backend",
]

Message = dict[str, str]


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptInfo:
    """The prompt card fields recorded with each call."""

    id: str
    version: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelRequest:
    messages: list[Message]
    schema: dict[str, Any] | None
    schema_name: str | None
    temperature: float
    max_tokens: int
    timeout_s: float
    agent: str
    task: str
    call_index: int  # how many calls this (run, agent, task) made before; scripted replies use it
    tools: list[dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RawReply:
    content: str
    input_tokens: int
    output_tokens: int
    model: str
    finish_reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    content: str
    parsed: BaseModel | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    model: str
    latency_s: float
    attempts: int
    ledger_ids: tuple[str, ...] = ()
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """The output hit the token limit: a failed generation, never something to use."""
        return self.finish_reason == "length"


class TransientModelError(ModelError):
    """Rate limit, 5xx, timeout or connection failure: worth retrying."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Backend(Protocol):
    provider: str
    model: str
    request_params: dict[str, Any]  # extra request shape recorded in the ledger

    def request(self, req: ModelRequest) -> RawReply: ...


# -- JSON handling ---------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON object inside a reply: models wrap it in fences or prose."""
    text = text.strip()
    if text.startswith("{"):
        return text
    m = _FENCE.search(text)
    if m:
        return m.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()  # pydantic rebuilds it on every call otherwise


def parse_reply(schema: type[BaseModel], content: str) -> BaseModel:
    """Validate a reply. Small models put raw newlines inside JSON strings, which strict
    JSON forbids; such a reply is still unambiguous, so it is read leniently."""
    text = extract_json(content)
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise
        try:
            data = json.loads(text, strict=False)
        except json.JSONDecodeError:
            raise exc from None
        return schema.model_validate(data)


def _validation_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                     for e in exc.errors()[:12])


def _schema_instruction(schema: dict[str, Any]) -> str:
    # A sketch, not the whole JSON Schema: it costs a fifth of the tokens, small models read
    # it better, and the schema itself is enforced (grammar or json_schema) and validated.
    return ("Reply with one JSON object only, no prose and no code fences, shaped like:\n"
            + _sketch(schema, schema))


def _sketch(node: dict[str, Any], root: dict[str, Any]) -> str:
    if "$ref" in node:
        node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in node:
        return " | ".join(_sketch(n, root) for n in node["anyOf"] if n.get("type") != "null")
    if "enum" in node or "const" in node:
        return "|".join(json.dumps(v) for v in node.get("enum", [node.get("const")]))
    kind = node.get("type")
    if kind == "object":
        fields = ", ".join(f'"{k}": {_sketch(v, root)}'
                           for k, v in node.get("properties", {}).items())
        return "{" + fields + "}"
    if kind == "array":
        most = f" (at most {node['maxItems']})" if "maxItems" in node else ""
        return f"[{_sketch(node.get('items', {}), root)}, ...]{most}"
    if kind == "string":
        return f"string≤{node['maxLength']}" if "maxLength" in node else "string"
    return str(kind or "value")


# Scripts a request in a Latin-script language never needs; a 0.5B model's stray CJK token
# or a UTF-8 sequence cut in half (U+FFFD) is noise, not content.
_FOREIGN = re.compile("[\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0e00-\u0e7f"
                      "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def clean_text(content: str, messages: Sequence[Message] = ()) -> str:
    """Valid text in the language of the request: drops replacement characters always, and
    characters of scripts the prompt does not use at all (a Chinese token in an English
    review)."""
    content = content.replace("\ufffd", "")
    if any(_FOREIGN.search(m.get("content", "")) for m in messages):
        return content
    return _FOREIGN.sub("", content)


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
    ) -> Reply:
        """`temperature` / `max_tokens` override the configured ones for this call (sampling
        candidates, short verdicts); both are recorded with the call."""
        from .redact import redact

        backend = self.backend_for(agent)
        # Nothing that looks like a secret leaves the machine: diffs and files shown to
        # reviewers may contain the very key the secrets check is about to flag.
        msgs = [{k: redact(v) for k, v in m.items()} for m in messages]
        json_schema = _json_schema(schema) if schema else None
        if json_schema is not None:
            msgs = _with_schema_instruction(msgs, json_schema)
        limits = {"temperature": temperature, "max_tokens": max_tokens}
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
                           call_index=call_index, tools=tools)
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
            content = clean_text(raw.content, msgs)
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


def _with_schema_instruction(msgs: list[Message], schema: dict[str, Any]) -> list[Message]:
    """The output format goes last, after the shared material: what differs between
    agents must come after what they share, or no prefix is reused."""
    instruction = _schema_instruction(schema)
    if msgs and msgs[-1]["role"] == "user":
        return [*msgs[:-1], {"role": "user", "content": msgs[-1]["content"] + "\n\n"
                             + instruction}]
    return [*msgs, {"role": "user", "content": instruction}]


# -- backend resolution ----------------------------------------------------------------------
def resolve_backend(spec: str, models: ModelsConfig, *, repo: Path | None = None,
                    ledger: Ledger | None = None, run_id: str | None = None) -> Backend:
    """Build the backend a model string names; raises ConfigError/UserError naming the fix."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty model name in [models]; use e.g. \"local\" or \"gpt-4o-mini\".")
    if spec.startswith("scripted:"):
        from .scripted import ScriptedBackend

        return ScriptedBackend.from_spec(spec, repo=repo)
    if spec.startswith("replay:"):
        from .replay import ReplayBackend

        return ReplayBackend.from_spec(spec, ledger)
    if spec == "local" or spec.startswith("local:"):
        return _local_backend(spec, models)
    plugin = _plugin_backend(spec, models)
    if plugin is not None:
        return plugin
    if "/" in spec and not spec.startswith("openai/"):
        return LiteLLMBackend(model=spec)
    return OpenAICompatBackend.from_config(spec.removeprefix("openai/"), models)


def _plugin_backend(spec: str, models: ModelsConfig) -> Backend | None:
    """Third-party backends: an entry point `name = "pkg.mod:factory"` in the group
    `shipyard.models` serves model strings `name:...`; `factory(spec, models)` returns
    a Backend. Looked up only for prefixes shipyard does not know itself."""
    prefix = spec.split(":", 1)[0] if ":" in spec else None
    if not prefix:
        return None
    from importlib.metadata import entry_points

    for ep in entry_points(group="shipyard.models"):
        if ep.name == prefix:
            return ep.load()(spec, models)
    return None


def _local_backend(spec: str, models: ModelsConfig) -> Backend:
    from .local import ensure_server, parse_local_spec, resolve_gguf

    path, sha = parse_local_spec(spec)
    gguf = resolve_gguf(path, sha, progress=_progress)
    server = ensure_server(gguf, progress=_progress)
    return LocalBackend(model=server.model, base_url=server.base_url, api_key="local",
                        structured="json_object", provider="llama.cpp", max_tokens_in_body=True,
                        label=f"local:{gguf.name}", max_concurrency=1, gguf=gguf)


def _progress(message: str) -> None:
    import sys

    print(f"  {message}", file=sys.stderr, flush=True)


@dataclass
class OpenAICompatBackend:
    """Any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp, LiteLLM proxy)."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    structured: str = "json_schema"
    provider: str = "openai"
    max_tokens_in_body: bool = False  # llama.cpp's server ignores ChatOpenAI(max_tokens=)
    label: str | None = None
    max_concurrency: int | None = None  # None: as many requests at once as callers make
    _client: Any = None

    @classmethod
    def from_config(cls, model: str, models: ModelsConfig) -> OpenAICompatBackend:
        base_url = models.base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(models.api_key_env)
        if not key and not base_url:
            raise UserError(
                f"model {model!r} needs an OpenAI API key: set {models.api_key_env}, or set "
                f"[models] base_url / OPENAI_BASE_URL for a compatible endpoint, or use "
                f"model = \"local\" for the embedded offline model.")
        structured = models.structured or "json_schema"
        provider = "openai" if not base_url else "openai-compatible"
        # OpenAI itself takes max_completion_tokens (what langchain sends); vLLM, Ollama,
        # llama.cpp and older proxies only honour max_tokens in the body.
        return cls(model=model, base_url=base_url, api_key=key or "not-needed",
                   structured=structured, provider=provider, max_tokens_in_body=bool(base_url))

    @property
    def request_params(self) -> dict[str, Any]:
        return {"structured": self.structured, "base_url": self.base_url,
                "backend": self.label or self.provider}

    def describe(self, req: ModelRequest) -> dict[str, Any]:
        shape: dict[str, Any] = {"response_format": self.response_format(req)}
        shape["max_tokens_sent_as"] = "body.max_tokens" if self.max_tokens_in_body \
            else "max_completion_tokens"
        return shape

    def response_format(self, req: ModelRequest) -> dict[str, Any] | None:
        if req.schema is None:
            return None
        if self.structured == "json_object":
            # llama.cpp's server turns "schema" into a grammar; "json_schema" is a 500 there.
            return {"type": "json_object", "schema": req.schema}
        return {"type": "json_schema",
                "json_schema": {"name": req.schema_name or "reply", "schema": req.schema,
                                "strict": False}}

    def request(self, req: ModelRequest) -> RawReply:
        import openai
        from langchain_openai import ChatOpenAI

        body: dict[str, Any] = {}
        rf = self.response_format(req)
        if rf is not None:
            body["response_format"] = rf  # sent as-is, bypassing langchain's own parsing
        if self.max_tokens_in_body:
            body["max_tokens"] = req.max_tokens
        llm = ChatOpenAI(model=self.model, base_url=self.base_url, api_key=self.api_key,
                         temperature=req.temperature, timeout=req.timeout_s, max_retries=0,
                         max_tokens=None if self.max_tokens_in_body else req.max_tokens,
                         extra_body=body or None)
        try:
            with _endpoint_slot(self.base_url, self.max_concurrency):
                msg = llm.invoke([(m["role"], m["content"]) for m in req.messages])
        except (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                openai.InternalServerError) as exc:
            raise TransientModelError(f"{type(exc).__name__}: {exc}",
                                      status=getattr(exc, "status_code", None)) from exc
        except openai.APIStatusError as exc:
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                raise TransientModelError(str(exc), status=exc.status_code) from exc
            raise ModelError(f"{self.provider} rejected the request ({exc.status_code}): "
                             f"{exc.message}") from exc
        usage = msg.usage_metadata or {}
        content = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
        return RawReply(content=content, input_tokens=int(usage.get("input_tokens", 0)),
                        output_tokens=int(usage.get("output_tokens", 0)),
                        model=msg.response_metadata.get("model_name") or self.model,
                        finish_reason=msg.response_metadata.get("finish_reason"))


@dataclass
class LocalBackend(OpenAICompatBackend):
    """The embedded llama.cpp server: restarted (on a new port) if it died mid-run."""

    gguf: Path | None = None

    def request(self, req: ModelRequest) -> RawReply:
        try:
            return super().request(req)
        except TransientModelError:
            from .local import ensure_server

            if self.gguf is not None:
                server = ensure_server(self.gguf, progress=_progress)  # no-op while it lives
                self.base_url, self.model = server.base_url, server.model
            raise  # the gateway's retry sends the request to the live server


_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


@contextlib.contextmanager
def _endpoint_slot(base_url: str | None, limit: int | None) -> Iterator[None]:
    """Queue requests to an endpoint that serves one at a time (llama.cpp on a laptop):
    G5's six parallel reviewers would otherwise spend their timeouts waiting in its queue."""
    if not limit:
        yield
        return
    with _SLOTS_LOCK:
        slot = _SLOTS.setdefault(f"{base_url}#{limit}", threading.BoundedSemaphore(limit))
    with slot:
        yield


@dataclass
class LiteLLMBackend:
    """Every other provider string (anthropic/…, bedrock/…, gemini/…) through litellm."""

    model: str
    provider: str = "litellm"

    @property
    def request_params(self) -> dict[str, Any]:
        return {"structured": "json_schema", "backend": "litellm"}

    def request(self, req: ModelRequest) -> RawReply:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map fetch
        try:
            import litellm
        except ImportError as exc:  # pragma: no cover - litellm is a core dependency
            raise UserError("litellm is not installed: pip install 'litellm>=1.106'") from exc
        kwargs: dict[str, Any] = {}
        if req.schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": req.schema_name or "reply", "schema": req.schema, "strict": False}}
        transient = tuple(getattr(litellm, n) for n in (
            "RateLimitError", "Timeout", "APIConnectionError", "InternalServerError",
            "ServiceUnavailableError", "BadGatewayError") if hasattr(litellm, n))
        try:
            resp = litellm.completion(model=self.model, messages=req.messages,
                                      temperature=req.temperature, max_tokens=req.max_tokens,
                                      timeout=req.timeout_s, num_retries=0, **kwargs)
        except transient as exc:
            raise TransientModelError(str(exc), status=getattr(exc, "status_code", None)) from exc
        except Exception as exc:  # litellm wraps every provider's errors differently
            raise ModelError(f"{self.model}: {type(exc).__name__}: {exc}") from exc
        choice = resp.choices[0]
        usage = getattr(resp, "usage", None)
        return RawReply(content=choice.message.content or "",
                        input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                        output_tokens=getattr(usage, "completion_tokens", 0) or 0,
                        model=getattr(resp, "model", None) or self.model,
                        finish_reason=getattr(choice, "finish_reason", None))
