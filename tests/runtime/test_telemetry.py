"""Telemetry: GenAI span attributes, nesting, errors, lazy SDK, JSONL export."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shipyard.runtime import telemetry
from shipyard.runtime.telemetry import current_trace_id, llm_span, node_span, tool_span

LLM_ARGS = {"agent": "planner", "model": "gpt-4o-mini", "provider": "openai",
            "temperature": 0.2, "max_tokens": 512, "run_id": "run-1"}


@pytest.fixture(autouse=True)
def _no_env_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell must not make the tests talk to a collector.
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "SHIPYARD_OTEL_CONSOLE", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    telemetry.shutdown()
    telemetry.configure("shipyard-test", exporters=[exporter], set_global=False)
    yield exporter
    telemetry.shutdown()


def _only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def test_llm_span_has_genai_attributes(spans: InMemorySpanExporter) -> None:
    with llm_span(**LLM_ARGS) as span:
        span.record(input_tokens=120, output_tokens=45, finish_reasons=["stop"], cost_usd=0.0123)

    recorded = _only(spans, "chat gpt-4o-mini")
    assert dict(recorded.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 512,
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 45,
        "gen_ai.response.finish_reasons": ("stop",),
        "shipyard.agent": "planner",
        "shipyard.run_id": "run-1",
        "shipyard.cost_usd": 0.0123,
    }
    assert recorded.kind.name == "CLIENT"
    assert recorded.status.status_code is StatusCode.UNSET
    assert recorded.resource.attributes["service.name"] == "shipyard-test"


def test_unset_request_params_are_left_out(spans: InMemorySpanExporter) -> None:
    with llm_span(**{**LLM_ARGS, "temperature": None, "max_tokens": None}) as span:
        span.record(input_tokens=1, output_tokens=1, finish_reasons=None, cost_usd=0.0)

    attributes = _only(spans, "chat gpt-4o-mini").attributes
    assert "gen_ai.request.temperature" not in attributes
    assert "gen_ai.request.max_tokens" not in attributes
    assert "gen_ai.response.finish_reasons" not in attributes


def test_node_llm_and_tool_spans_nest_in_one_trace(spans: InMemorySpanExporter) -> None:
    with node_span("g5_build", run_id="run-1", gate="G5"):
        outer_trace = current_trace_id()
        with llm_span(**LLM_ARGS):
            inner_trace = current_trace_id()
        with tool_span("ruff", run_id="run-1"):
            pass

    node = _only(spans, "shipyard.node g5_build")
    llm = _only(spans, "chat gpt-4o-mini")
    tool = _only(spans, "shipyard.tool ruff")
    assert node.attributes["shipyard.gate"] == "G5"
    assert node.parent is None
    for child in (llm, tool):
        assert child.context.trace_id == node.context.trace_id
        assert child.parent is not None and child.parent.span_id == node.context.span_id
    assert outer_trace == inner_trace == f"{node.context.trace_id:032x}"
    assert current_trace_id() is None


def test_node_span_without_gate_omits_it(spans: InMemorySpanExporter) -> None:
    with node_span("route", run_id="run-1", gate=None):
        pass
    assert "shipyard.gate" not in _only(spans, "shipyard.node route").attributes


def test_error_sets_status_and_records_exception_once(spans: InMemorySpanExporter) -> None:
    with pytest.raises(TimeoutError), llm_span(**LLM_ARGS) as span:
        exc = TimeoutError("provider took too long")
        span.error(exc)
        raise exc

    recorded = _only(spans, "chat gpt-4o-mini")
    assert recorded.status.status_code is StatusCode.ERROR
    assert "provider took too long" in recorded.status.description
    assert recorded.attributes["error.type"] == "TimeoutError"
    exceptions = [e for e in recorded.events if e.name == "exception"]
    assert len(exceptions) == 1
    assert exceptions[0].attributes["exception.type"] == "TimeoutError"


def test_uncaught_exception_marks_span_error(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), tool_span("pytest", run_id="run-1"):
        raise ValueError("boom")

    recorded = _only(spans, "shipyard.tool pytest")
    assert recorded.status.status_code is StatusCode.ERROR
    assert [e.name for e in recorded.events] == ["exception"]


def test_configure_is_idempotent(spans: InMemorySpanExporter) -> None:
    other = InMemorySpanExporter()
    telemetry.configure("ignored", exporters=[other], set_global=False)

    with llm_span(**LLM_ARGS):
        pass

    assert len(spans.get_finished_spans()) == 1
    assert other.get_finished_spans() == ()


def test_file_exporter_writes_jsonl(tmp_path: Path) -> None:
    trace_file = tmp_path / ".shipyard" / "traces.jsonl"
    telemetry.shutdown()
    telemetry.configure(trace_file=trace_file, set_global=False)
    try:
        with node_span("g0_strategy", run_id="run-9", gate="G0"):
            with llm_span(**LLM_ARGS) as span:
                span.record(input_tokens=3, output_tokens=4, finish_reasons=["stop", "length"],
                            cost_usd=0.5)
            with pytest.raises(RuntimeError), tool_span("bandit", run_id="run-9"):
                raise RuntimeError("crashed")
    finally:
        telemetry.shutdown()

    records = [json.loads(line) for line in trace_file.read_text().splitlines()]
    by_name = {r["name"]: r for r in records}
    assert set(by_name) == {"chat gpt-4o-mini", "shipyard.tool bandit", "shipyard.node g0_strategy"}
    node, llm, tool = (by_name["shipyard.node g0_strategy"], by_name["chat gpt-4o-mini"],
                       by_name["shipyard.tool bandit"])
    assert len(llm["trace_id"]) == 32 and len(llm["span_id"]) == 16
    assert llm["trace_id"] == node["trace_id"] == tool["trace_id"]
    assert llm["parent_span_id"] == node["span_id"]
    assert node["parent_span_id"] is None
    assert llm["start_ns"] <= llm["end_ns"]
    assert llm["attributes"]["gen_ai.response.finish_reasons"] == ["stop", "length"]
    assert llm["attributes"]["gen_ai.usage.output_tokens"] == 4
    assert llm["status"]["code"] == "UNSET"
    assert tool["status"]["code"] == "ERROR"
    assert tool["events"][0]["attributes"]["exception.message"] == "crashed"
    assert node["service"] == "shipyard"


def test_unconfigured_spans_are_noops_without_the_sdk(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from shipyard.runtime.telemetry import llm_span, node_span, current_trace_id\n"
        "with node_span('n', run_id='r', gate=None):\n"
        "    with llm_span(agent='a', model='m', provider='p', temperature=None,\n"
        "                  max_tokens=None, run_id='r') as span:\n"
        "        span.record(input_tokens=1, output_tokens=2, finish_reasons=['stop'],\n"
        "                    cost_usd=0.0)\n"
        "        span.error(RuntimeError('x'))\n"
        "        assert current_trace_id() is None\n"
        "assert 'opentelemetry.sdk' not in sys.modules, 'SDK imported'\n"
        "assert not any(m.startswith('opentelemetry.exporter') for m in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_importing_telemetry_imports_no_opentelemetry(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import shipyard.runtime.telemetry\n"
        "assert not any(m.startswith('opentelemetry') for m in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_exporters_follow_the_environment(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    # Nothing configured: no exporter at all, so nothing can touch the network.
    assert telemetry._processors(None, ()) == []

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    monkeypatch.setenv("SHIPYARD_OTEL_CONSOLE", "1")
    processors = telemetry._processors(tmp_path / "t.jsonl", ())
    try:
        exporters = [p.span_exporter for p in processors]
        assert isinstance(processors[0], BatchSpanProcessor)
        assert [type(e) for e in exporters] == [OTLPSpanExporter, telemetry.JsonlSpanExporter,
                                                ConsoleSpanExporter]
    finally:
        for processor in processors:
            processor.shutdown()
