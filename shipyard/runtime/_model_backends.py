"""Model backends: which one a model string names, and the provider clients behind them
(OpenAI-compatible endpoints, the embedded llama.cpp server, litellm, plugins)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ModelError, UserError
from ._model_types import Backend, ModelRequest, RawReply, TransientModelError

if TYPE_CHECKING:
    from ..config import ModelsConfig
    from .ledger import Ledger

__all__ = ["LiteLLMBackend", "LocalBackend", "OpenAICompatBackend", "resolve_backend"]


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

    def extra_body(self, req: ModelRequest) -> dict[str, Any]:
        """Fields of the request body beyond the OpenAI ones langchain sends."""
        del req
        return {}

    def request(self, req: ModelRequest) -> RawReply:
        import openai
        from langchain_openai import ChatOpenAI

        body: dict[str, Any] = self.extra_body(req)
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

    def extra_body(self, req: ModelRequest) -> dict[str, Any]:
        """A seed for every sampled call, from the call itself. Without one the server
        derives each seed from the one its context state last held, and with several
        prompts' states kept (`_prompt_cache`) a restored state would hand the same prompt
        the same seed again: the same "sample" twice."""
        return {"seed": sample_seed(req)} if req.temperature > 0 else {}

    def describe(self, req: ModelRequest) -> dict[str, Any]:
        return {**super().describe(req), **self.extra_body(req)}

    def request(self, req: ModelRequest) -> RawReply:
        """A prefill goes as a trailing assistant message, which our server continues
        (`_llama_patch`: the chat template renders it as the open start of the reply)."""
        from .local import touch_lease

        if self.gguf is not None:
            touch_lease(self.gguf)  # a warm server's lease runs from its last request
        try:
            if not req.prefill:
                return super().request(req)
            sent = replace(req, messages=[*req.messages,
                                          {"role": "assistant", "content": req.prefill}])
            return replace(super().request(sent), continued=True)
        except TransientModelError:
            from .local import ensure_server

            if self.gguf is not None:
                server = ensure_server(self.gguf, progress=_progress)  # no-op while it lives
                self.base_url, self.model = server.base_url, server.model
            raise  # the gateway's retry sends the request to the live server
        finally:
            if self.gguf is not None:
                touch_lease(self.gguf)


def sample_seed(req: ModelRequest) -> int:
    """A 31-bit seed that differs between calls of a run (the call index counts them) and
    between prompts, and is the same when a run is driven again the same way."""
    text = json.dumps([req.agent, req.task, req.call_index, req.temperature, req.messages,
                       req.prefill], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


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
