"""OpenTelemetry metrics next to the traces: tokens, cost, latency, gates, retries, runs.

The instruments, and the labels a dashboard groups by:

| instrument | kind | labels |
|---|---|---|
| `gen_ai.client.token.usage` ({token}) | histogram | `gen_ai.token.type` (input/output), `gen_ai.request.model`, `shipyard.agent` |
| `gen_ai.client.operation.duration` (s) | histogram | model, agent, `error.type` on failure |
| `shipyard.llm.cost` (USD) | counter | model, agent |
| `shipyard.llm.retries` | counter | model, agent |
| `shipyard.gate.duration` (s) | histogram | `shipyard.node`, `shipyard.gate`, `shipyard.outcome` |
| `shipyard.gate.verdicts` | counter | gate, `shipyard.verdict` |
| `shipyard.runs` | counter | `shipyard.status` (merged, failed, rejected) |
| `shipyard.run.lead_time` (s) | histogram | status |

The two `gen_ai.client.*` names are the GenAI semantic conventions'.

Exporters come from `OTEL_METRICS_EXPORTER`: `none` (the default), `console` (stderr,
so `--json` on stdout stays parseable) or `otlp` (http/protobuf, to
`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`). Export happens on
the SDK's background thread; a collector that is down costs a run nothing but a log line,
and at exit at most the exporter's timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default).
Until `configure()` runs every `record_*` function is a no-op that imports nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPORTER_ENV",
    "configure",
    "export_timeout_s",
    "exporter_kinds",
    "record_gate",
    "record_llm_call",
    "record_llm_duration",
    "record_retry",
    "record_run_end",
    "record_verdict",
    "shutdown",
]

EXPORTER_ENV = "OTEL_METRICS_EXPORTER"
_KINDS = ("none", "console", "otlp")
_DEFAULT_TIMEOUT_S = 10.0  # the OTLP exporter's own default

_lock = threading.Lock()
_provider: Any = None
_inst: _Instruments | None = None
_shutdown_timeout_ms = int(_DEFAULT_TIMEOUT_S * 1000)


@dataclass(frozen=True, slots=True)
class _Instruments:
    tokens: Any
    duration: Any
    cost: Any
    retries: Any
    gate_duration: Any
    verdicts: Any
    runs: Any
    lead_time: Any


def exporter_kinds() -> list[str]:
    """The exporters `OTEL_METRICS_EXPORTER` asks for; a typo is a configuration error."""
    raw = os.environ.get(EXPORTER_ENV, "none")
    kinds = [k.strip().lower() for k in raw.split(",") if k.strip()] or ["none"]
    bad = [k for k in kinds if k not in _KINDS]
    if bad:
        from shipyard.errors import ConfigError

        raise ConfigError(f"{EXPORTER_ENV}={raw!r} names unknown exporter(s) {bad}; "
                          f"use one of {', '.join(_KINDS)} (comma-separated).")
    return [k for k in kinds if k != "none"]


def configure(resource: Any, *, readers: Sequence[Any] = ()) -> None:
    """Start metrics with the exporters the environment asks for, plus `readers` (tests
    pass an InMemoryMetricReader). Without any, nothing is recorded at all."""
    global _provider, _inst, _shutdown_timeout_ms
    with _lock:
        if _provider is not None:
            return
        all_readers = [*_env_readers(), *readers]
        if not all_readers:
            return
        from opentelemetry.sdk.metrics import MeterProvider

        _provider = MeterProvider(resource=resource, metric_readers=all_readers)
        _inst = _instruments(_provider.get_meter("shipyard"))
        _shutdown_timeout_ms = int(export_timeout_s() * 1000) + 500


def shutdown() -> None:
    """Export what is left and stop; bounded by the exporter's timeout."""
    global _provider, _inst
    with _lock:
        provider, _provider, _inst = _provider, None, None
    if provider is not None:
        provider.shutdown(timeout_millis=_shutdown_timeout_ms)


def export_timeout_s() -> float:
    """Seconds an OTLP export may take (the SDK's env variables, else its 10 s default)."""
    raw = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT")
    try:
        return float(raw) if raw else _DEFAULT_TIMEOUT_S
    except ValueError:
        return _DEFAULT_TIMEOUT_S


def _env_readers() -> list[Any]:
    kinds = exporter_kinds()
    if not kinds:
        return []
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    readers = []
    if "console" in kinds:
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stderr)))
    if "otlp" in kinds:
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
        except ImportError as exc:
            from shipyard.errors import ConfigError

            raise ConfigError("OTEL_METRICS_EXPORTER=otlp but the exporter is missing: pip "
                              "install opentelemetry-exporter-otlp-proto-http") from exc
        # It reads OTEL_EXPORTER_OTLP_*ENDPOINT / _HEADERS / _TIMEOUT itself.
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    return readers


def _instruments(meter: Any) -> _Instruments:
    return _Instruments(
        tokens=meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                      description="Tokens per model call, input and output"),
        duration=meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                        description="Model call latency"),
        cost=meter.create_counter("shipyard.llm.cost", unit="USD",
                                  description="Model spend (local models cost 0)"),
        retries=meter.create_counter("shipyard.llm.retries", unit="{retry}",
                                     description="Retries of transient model errors"),
        gate_duration=meter.create_histogram("shipyard.gate.duration", unit="s",
                                             description="Time spent in one graph node"),
        verdicts=meter.create_counter("shipyard.gate.verdicts", unit="{verdict}",
                                      description="Gate decisions: approve, revise, reject, "
                                                  "pass, block, fail"),
        runs=meter.create_counter("shipyard.runs", unit="{run}",
                                  description="Runs that ended, by status"),
        lead_time=meter.create_histogram("shipyard.run.lead_time", unit="s",
                                         description="Kickoff to end of run"),
    )


# --------------------------------------------------------------------------- recording


def record_llm_call(*, agent: str, model: str, input_tokens: int, output_tokens: int,
                    cost_usd: float) -> None:
    inst = _inst
    if inst is None:
        return
    labels = {"gen_ai.request.model": model, "shipyard.agent": agent}
    inst.tokens.record(input_tokens, {**labels, "gen_ai.token.type": "input"})
    inst.tokens.record(output_tokens, {**labels, "gen_ai.token.type": "output"})
    inst.cost.add(cost_usd, labels)


def record_llm_duration(*, agent: str, model: str, seconds: float,
                        error_type: str | None) -> None:
    inst = _inst
    if inst is None:
        return
    labels = {"gen_ai.request.model": model, "shipyard.agent": agent,
              "gen_ai.operation.name": "chat"}
    if error_type:
        labels["error.type"] = error_type
    inst.duration.record(seconds, labels)


def record_retry(*, agent: str, model: str) -> None:
    if _inst is not None:
        _inst.retries.add(1, {"gen_ai.request.model": model, "shipyard.agent": agent})


def record_gate(*, node: str, gate: str | None, seconds: float, outcome: str) -> None:
    """One node execution; `outcome` is ok, paused (waiting for a human) or error."""
    if _inst is not None:
        _inst.gate_duration.record(seconds, {"shipyard.node": node, "shipyard.gate": gate or "",
                                             "shipyard.outcome": outcome})


def record_verdict(*, gate: str, verdict: str) -> None:
    if _inst is not None:
        _inst.verdicts.add(1, {"shipyard.gate": gate, "shipyard.verdict": verdict})


def record_run_end(*, status: str, lead_time_s: float) -> None:
    if _inst is not None:
        _inst.runs.add(1, {"shipyard.status": status})
        _inst.lead_time.record(lead_time_s, {"shipyard.status": status})
