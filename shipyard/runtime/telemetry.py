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
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "JsonlSpanExporter",
    "LLMSpan",
    "SpanHandle",
    "configure",
    "current_trace_id",
    "llm_span",
    "node_span",
    "shutdown",
    "tool_span",
]

_TRACER_NAME = "shipyard"
_CONSOLE_ENV = "SHIPYARD_OTEL_CONSOLE"
_OTLP_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_lock = threading.Lock()
_provider: TracerProvider | None = None
_atexit_registered = False

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


# --------------------------------------------------------------------------- setup


def configure(service_name: str = "shipyard", *, trace_file: Path | None = None,
              exporters: Sequence[SpanExporter] = (), set_global: bool = True) -> None:
    """Start tracing for this process; later calls are no-ops until `shutdown()`.

    Exporters: OTLP over http/protobuf when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; one JSON line per span in
    `trace_file` when given; the console when `SHIPYARD_OTEL_CONSOLE=1`; plus
    any `exporters` passed in (tests inject an in-memory one). With none of
    these, spans are still created, so trace ids reach the ledger.

    `set_global` also installs the provider as the process-wide default (only
    if none is installed yet) so third-party instrumentation joins our traces.
    """
    global _provider, _atexit_registered
    with _lock:
        if _provider is not None:
            return
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        # OTEL_SERVICE_NAME, when set, is the operator's choice and wins.
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
        provider = TracerProvider(resource=Resource.create(attributes))
        for processor in _processors(trace_file, exporters):
            provider.add_span_processor(processor)
        _provider = provider
        if set_global and _global_provider_unset():
            trace.set_tracer_provider(provider)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True


def shutdown() -> None:
    """Flush every exporter and stop tracing; `configure()` may be called again."""
    global _provider
    with _lock:
        provider, _provider = _provider, None
    if provider is not None:
        provider.force_flush()
        provider.shutdown()


def _processors(trace_file: Path | None, exporters: Sequence[SpanExporter]) -> list[Any]:
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    processors: list[Any] = []
    if any(os.environ.get(name) for name in _OTLP_ENVS):
        # Batched: a collector round-trip must not sit inside every model call.
        processors.append(BatchSpanProcessor(_otlp_exporter()))
    if trace_file is not None:
        # Synchronous: a local append is cheap, and a crash loses no spans.
        processors.append(SimpleSpanProcessor(JsonlSpanExporter(trace_file)))
    if os.environ.get(_CONSOLE_ENV) == "1":
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
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
    """What a span context manager yields: add attributes, mark a failure."""

    __slots__ = ("_failed", "_span")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._failed = False

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


class LLMSpan(SpanHandle):
    """A GenAI `chat` span; `record()` adds what the reply reported."""

    __slots__ = ()

    def record(self, input_tokens: int, output_tokens: int, finish_reasons: list[str] | None,
               cost_usd: float) -> None:
        self.set_attributes({
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.response.finish_reasons": list(finish_reasons) if finish_reasons else None,
            "shipyard.cost_usd": cost_usd,
        })


@contextmanager
def llm_span(*, agent: str, model: str, provider: str, temperature: float | None,
             max_tokens: int | None, run_id: str) -> Iterator[LLMSpan]:
    """A span around one model call, named `chat {model}` as the GenAI conventions ask."""
    from opentelemetry.trace import SpanKind

    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": temperature,
        "gen_ai.request.max_tokens": max_tokens,
        "shipyard.agent": agent,
        "shipyard.run_id": run_id,
    }
    with _span(f"chat {model}", attributes, LLMSpan, kind=SpanKind.CLIENT) as handle:
        yield handle


@contextmanager
def node_span(name: str, *, run_id: str, gate: str | None) -> Iterator[SpanHandle]:
    """A span around one graph node; model and tool spans inside it become its children."""
    attributes = {"shipyard.node": name, "shipyard.run_id": run_id, "shipyard.gate": gate}
    with _span(f"shipyard.node {name}", attributes, SpanHandle) as handle:
        yield handle


@contextmanager
def tool_span(name: str, *, run_id: str) -> Iterator[SpanHandle]:
    """A span around one tool or check run (ruff, bandit, pytest, ...)."""
    attributes = {"shipyard.tool": name, "shipyard.run_id": run_id}
    with _span(f"shipyard.tool {name}", attributes, SpanHandle) as handle:
        yield handle


_H = TypeVar("_H", bound=SpanHandle)


@contextmanager
def _span(name: str, attributes: Mapping[str, AttributeValue | None], handle_type: type[_H],
          *, kind: Any = None) -> Iterator[_H]:
    from opentelemetry.trace import SpanKind

    # We record exceptions ourselves: the SDK's automatic recording would
    # record a second copy when the caller already called .error(exc).
    with _tracer().start_as_current_span(
        name, kind=kind or SpanKind.INTERNAL, record_exception=False,
        set_status_on_exception=False,
    ) as span:
        handle = handle_type(span)
        handle.set_attributes(attributes)
        try:
            yield handle
        except GeneratorExit:  # the generator was closed, not failed
            raise
        except BaseException as exc:  # Ctrl-C and cancellation are failed calls too
            if not handle._failed:
                handle.error(exc)
            raise


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, or None outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id)


# --------------------------------------------------------------------------- JSONL file


class JsonlSpanExporter:
    """Appends one JSON object per finished span to a file: the offline trace log.

    It satisfies the SDK's `SpanExporter` protocol (export, shutdown,
    force_flush) without subclassing it, so this module does not import the
    SDK until `configure()` runs. Span processors only call those methods.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()  # parallel reviewers end spans from several threads

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        text = "".join(json.dumps(_span_record(s), default=str) + "\n" for s in spans)
        try:
            with self._lock:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                # One write per batch in append mode: lines from concurrent
                # processes sharing the file do not interleave mid-line.
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(text)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is held open between exports."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "attributes": _plain(span.attributes),
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "events": [{"name": e.name, "time_ns": e.timestamp, "attributes": _plain(e.attributes)}
                   for e in span.events],
        "service": (span.resource.attributes.get("service.name") if span.resource else None),
    }


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """OTel attribute values as JSON types: sequences become lists."""
    return {k: list(v) if isinstance(v, tuple | list) else v
            for k, v in (attributes or {}).items()}
