"""OpenTelemetry tracing for model calls, graph nodes and tool runs.

Every model call is a GenAI `chat` span with the semantic-convention attribute
names (DESIGN §5), so any OTel backend can show tokens, cost and latency per
agent; graph nodes and tool runs are spans around them, so one run reads as
one trace. The ledger records `current_trace_id()` to join the two.

Why it is shaped this way:

- Nothing is imported or connected at import time. Until `configure()` runs,
  spans go through the OpenTelemetry *API* only (a no-op, or whatever provider
  the host process installed), and the SDK is never imported.
- `configure()` keeps its own `TracerProvider` and takes tracers from it. The
  global provider can be set only once per process, so relying on it would
  make tests, and a second configure, silently write nowhere.
- Exporters are chosen in code because the bare SDK ignores
  `OTEL_TRACES_EXPORTER`. The network is used only when an OTLP endpoint is
  configured (invariant 5); the offline default is a JSONL file.
- Metrics (`metrics.py`) start and stop with the traces and share their resource.
  `OTEL_SDK_DISABLED=true` turns both off: spans are then the API's no-ops.
- A run that stops at a human gate and resumes in another process stays one
  trace: `run_span` takes the first segment's span as its remote parent and links
  to the spans before the interrupt. Ledger rows carry `trace_id` and `span_id`
  (`current_ids()`), and a model-call span carries its row's id, so each leads to
  the other.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._trace_file import JsonlSpanExporter

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "JsonlSpanExporter",
    "LLMSpan",
    "SpanHandle",
    "configure",
    "current_ids",
    "current_trace_id",
    "llm_span",
    "node_span",
    "run_span",
    "shutdown",
    "tool_span",
]

_TRACER_NAME = "shipyard"
_CONSOLE_ENV = "SHIPYARD_OTEL_CONSOLE"
_OTLP_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_TRACES_ENV = "OTEL_TRACES_EXPORTER"  # none | console | otlp, comma-separated

_lock = threading.Lock()
_provider: TracerProvider | None = None
_atexit_registered = False

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


# --------------------------------------------------------------------------- setup


def configure(service_name: str = "shipyard", *, trace_file: Path | None = None,
              exporters: Sequence[SpanExporter] = (), set_global: bool = True,
              metric_readers: Sequence[Any] = ()) -> None:
    """Start tracing for this process; later calls are no-ops until `shutdown()`.

    Exporters: OTLP over http/protobuf when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; one JSON line per span in
    `trace_file` when given; the console when `SHIPYARD_OTEL_CONSOLE=1`; plus
    any `exporters` passed in (tests inject an in-memory one). With none of
    these, spans are still created, so trace ids reach the ledger.

    `set_global` also installs the provider as the process-wide default (only
    if none is installed yet) so third-party instrumentation joins our traces.
    `metric_readers` are added to the exporters `OTEL_METRICS_EXPORTER` asks for.
    """
    global _provider, _atexit_registered
    with _lock:
        if _provider is not None or _disabled():
            return
        from . import metrics

        metrics.exporter_kinds()  # a misspelt exporter fails here, before anything starts
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        # OTEL_SERVICE_NAME, when set, is the operator's choice and wins.
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
        provider = TracerProvider(resource=Resource.create(attributes))
        for processor in _processors(trace_file, exporters):
            provider.add_span_processor(processor)
        _provider = provider
        metrics.configure(provider.resource, readers=metric_readers)
        if set_global and _global_provider_unset():
            trace.set_tracer_provider(provider)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True


def shutdown() -> None:
    """Flush every exporter and stop tracing; `configure()` may be called again.

    Bounded: an unreachable collector costs at most the exporter's timeout here."""
    global _provider
    with _lock:
        provider, _provider = _provider, None
    if provider is not None:
        from . import metrics

        provider.force_flush(timeout_millis=int(metrics.export_timeout_s() * 1000) + 500)
        provider.shutdown()
        metrics.shutdown()


def _disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _trace_exporter_kinds() -> set[str]:
    return {k.strip().lower() for k in os.environ.get(_TRACES_ENV, "").split(",") if k.strip()}


def _processors(trace_file: Path | None, exporters: Sequence[SpanExporter]) -> list[Any]:
    import sys

    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    processors: list[Any] = []
    kinds = _trace_exporter_kinds()
    if "otlp" in kinds or ("none" not in kinds and any(os.environ.get(n) for n in _OTLP_ENVS)):
        # Batched: a collector round-trip must not sit inside every model call.
        processors.append(BatchSpanProcessor(_otlp_exporter()))
    if trace_file is not None:
        # Synchronous: a local append is cheap, and a crash loses no spans.
        processors.append(SimpleSpanProcessor(JsonlSpanExporter(trace_file)))
    if os.environ.get(_CONSOLE_ENV) == "1" or "console" in kinds:
        # stderr: stdout carries `--json` output, which a span dump would break
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    processors.extend(SimpleSpanProcessor(exporter) for exporter in exporters)
    return processors


def _otlp_exporter() -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        from shipyard.errors import ConfigError

        raise ConfigError("an OTLP endpoint is set but the exporter is missing: "
                          "pip install opentelemetry-exporter-otlp-proto-http") from exc
    # It reads OTEL_EXPORTER_OTLP_*ENDPOINT / _HEADERS itself.
    return OTLPSpanExporter()


def _global_provider_unset() -> bool:
    from opentelemetry import trace

    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _tracer() -> Tracer:
    from opentelemetry import trace

    provider = _provider
    if provider is not None:
        return provider.get_tracer(_TRACER_NAME)
    # Unconfigured: the API's tracer is a no-op unless the host installed a
    # provider, in which case our spans join the host's traces.
    return trace.get_tracer(_TRACER_NAME)


# --------------------------------------------------------------------------- spans


class SpanHandle:
    """What a span context manager yields: add attributes, mark a failure or a pause."""

    __slots__ = ("_failed", "_paused", "_span")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._failed = False
        self._paused = False

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Add attributes; None values are skipped (OTel rejects them with a warning)."""
        for key, value in attributes.items():
            if value is not None:
                self._span.set_attribute(key, value)

    def error(self, exc: BaseException) -> None:
        """Record `exc` on the span and set its status to ERROR."""
        from opentelemetry.trace import Status, StatusCode

        self._failed = True
        self._span.record_exception(exc)
        self._span.set_attribute("error.type", type(exc).__qualname__)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    def paused(self) -> None:
        """The exception leaving this span is a pause for a human, not a failure."""
        self._paused = True
        self._span.set_attribute("shipyard.paused", True)


class LLMSpan(SpanHandle):
    """A GenAI `chat` span; `record()` adds what the reply reported, and counts it."""

    __slots__ = ("_agent", "_model")

    def __init__(self, span: Span, agent: str = "", model: str = "") -> None:
        super().__init__(span)
        self._agent, self._model = agent, model

    def record(self, input_tokens: int, output_tokens: int, finish_reasons: list[str] | None,
               cost_usd: float) -> None:
        from . import metrics

        self.set_attributes({
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.response.finish_reasons": list(finish_reasons) if finish_reasons else None,
            "shipyard.cost_usd": cost_usd,
        })
        metrics.record_llm_call(agent=self._agent, model=self._model, input_tokens=input_tokens,
                                output_tokens=output_tokens, cost_usd=cost_usd)

    def ledger_row(self, row_id: str) -> None:
        """The id of the `llm_calls` row this call wrote: from the span back to the audit."""
        self._span.set_attribute("shipyard.ledger.id", row_id)


@contextmanager
def llm_span(*, agent: str, model: str, provider: str, temperature: float | None,
             max_tokens: int | None, run_id: str) -> Iterator[LLMSpan]:
    """A span around one model call, named `chat {model}` as the GenAI conventions ask."""
    from opentelemetry.trace import SpanKind

    from . import metrics

    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": temperature,
        "gen_ai.request.max_tokens": max_tokens,
        "shipyard.agent": agent,
        "shipyard.run_id": run_id,
    }
    start, error = time.perf_counter(), None
    try:
        with _span(f"chat {model}", attributes, LLMSpan, kind=SpanKind.CLIENT) as handle:
            handle._agent, handle._model = agent, model
            yield handle
    except BaseException as exc:
        error = type(exc).__qualname__
        raise
    finally:
        metrics.record_llm_duration(agent=agent, model=model,
                                    seconds=time.perf_counter() - start, error_type=error)


@contextmanager
def node_span(name: str, *, run_id: str, gate: str | None) -> Iterator[SpanHandle]:
    """A span around one graph node; model and tool spans inside it become its children.

    Its duration is recorded as `shipyard.gate.duration` with the outcome: ok, paused
    (the node stopped for a human: `handle.paused()`) or error."""
    from . import metrics

    attributes = {"shipyard.node": name, "shipyard.run_id": run_id, "shipyard.gate": gate}
    start, outcome = time.perf_counter(), "error"
    handle: SpanHandle | None = None
    try:
        with _span(f"shipyard.node {name}", attributes, SpanHandle) as handle:
            yield handle
        outcome = "ok"
    finally:
        if handle is not None and handle._paused:
            outcome = "paused"
        metrics.record_gate(node=name, gate=gate, seconds=time.perf_counter() - start,
                            outcome=outcome)


@contextmanager
def run_span(run_id: str, *, parent: tuple[str, str] | None = None,
             links: Sequence[tuple[str, str]] = ()) -> Iterator[SpanHandle]:
    """The root span of one drive of a run. A resumed run passes the first drive's
    (trace id, span id) as `parent`, so the whole run stays one trace across processes,
    and `links` to the spans that ran before the interrupt."""
    from opentelemetry import trace
    from opentelemetry.trace import Link

    context = trace.set_span_in_context(trace.NonRecordingSpan(_remote(*parent))) \
        if parent else None
    span_links = [Link(_remote(*ids), {"shipyard.link": "before_interrupt"}) for ids in links]
    attributes = {"shipyard.node": "run", "shipyard.run_id": run_id,
                  "shipyard.resumed": bool(parent) or None}
    with _span("shipyard.node run", attributes, SpanHandle, context=context,
               links=span_links) as handle:
        yield handle


def tool_span(name: str, *, run_id: str | None) -> Any:
    """A span around one tool or check run (ruff, bandit, pytest, ...); inside a run its
    parent node span already names the run."""
    attributes = {"shipyard.tool": name, "shipyard.run_id": run_id}
    return _span(f"shipyard.tool {name}", attributes, SpanHandle)


def _remote(trace_id: str, span_id: str) -> Any:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(trace_id=int(trace_id, 16), span_id=int(span_id, 16), is_remote=True,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED))


_H = TypeVar("_H", bound=SpanHandle)


@contextmanager
def _span(name: str, attributes: Mapping[str, AttributeValue | None], handle_type: type[_H],
          *, kind: Any = None, context: Any = None, links: Sequence[Any] = ()) -> Iterator[_H]:
    from opentelemetry.trace import SpanKind

    # We record exceptions ourselves: the SDK's automatic recording would
    # record a second copy when the caller already called .error(exc).
    with _tracer().start_as_current_span(
        name, context=context, kind=kind or SpanKind.INTERNAL, links=list(links) or None,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        handle = handle_type(span)
        handle.set_attributes(attributes)
        try:
            yield handle
        except GeneratorExit:  # the generator was closed, not failed
            raise
        except BaseException as exc:  # Ctrl-C and cancellation are failed calls too
            if not handle._failed and not handle._paused:
                handle.error(exc)
            raise


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the active span as hex, or None outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, or None outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id)
