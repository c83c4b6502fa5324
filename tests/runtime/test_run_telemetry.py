"""A scripted run, stopped at a human gate and resumed by a second "process", is one trace:
its spans, its metrics, and the ledger rows that point at them (and back)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shipyard.runner import Runner
from shipyard.runtime import telemetry


@pytest.fixture(autouse=True)
def _no_env_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    telemetry.shutdown()
    yield
    telemetry.shutdown()


def _process() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """What a fresh process does: its own provider, exporter and metric reader."""
    telemetry.shutdown()
    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry.configure("shipyard-test", exporters=[spans], metric_readers=[metrics],
                        set_global=False)
    return spans, metrics


def _metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


def _ledger(repo: Path) -> sqlite3.Connection:
    db = sqlite3.connect(repo / ".shipyard" / "ledger.db")
    db.row_factory = sqlite3.Row
    return db


def test_interrupted_and_resumed_run_is_one_trace_with_metrics_and_ledger_links(make_repo,
                                                                                 replies):
    # a transient error on the Implementer's first call: one retry
    replies["implementer.implement"] = [{"error": {"status": 429, "message": "slow down"}},
                                        *replies["implementer.implement"]]
    repo = make_repo(human=["G0"], price_as="gpt-4o-mini")

    first_spans, first_metrics = _process()
    out = Runner(repo).start("Add multiply")
    assert (out.status, out.gate) == ("waiting", "G0")
    before = first_spans.get_finished_spans()
    first_points = _metric_points(first_metrics)

    second_spans, second_metrics = _process()
    out = Runner(repo).decide(out.run_id, "approve", comment="ok", who="alice@example.com")
    assert (out.status, out.gate) == ("waiting", "G6")
    after = second_spans.get_finished_spans()
    points = _metric_points(second_metrics)

    names_before = Counter(s.name for s in before)
    names_after = Counter(s.name for s in after)
    assert names_before["shipyard.node run"] == 1
    assert {"shipyard.node g0_plan", "shipyard.node g0_gate", "chat scripted-test"} <= set(
        names_before)
    assert {"shipyard.node run", "shipyard.node g0_gate", "shipyard.node g1_plan",
            "shipyard.node g5_implement", "shipyard.node review", "shipyard.node g5_decide",
            "shipyard.node g6_gate", "shipyard.tool lint", "shipyard.tool tests",
            "chat scripted-test"} <= set(names_after)

    # One trace across the interrupt: the resumed run's root is a child of the first one,
    # and links to the spans that ran before the interrupt.
    first_root = next(s for s in before if s.name == "shipyard.node run")
    second_root = next(s for s in after if s.name == "shipyard.node run")
    assert {s.context.trace_id for s in [*before, *after]} == {first_root.context.trace_id}
    assert second_root.parent.span_id == first_root.context.span_id
    linked = {link.context.span_id for link in second_root.links}
    assert first_root.context.span_id in linked

    # Pausing for a human is not an error; the decision after it is a verdict.
    paused = next(s for s in before if s.name == "shipyard.node g0_gate")
    assert paused.status.status_code is not StatusCode.ERROR
    assert paused.attributes["shipyard.paused"] is True
    decided = next(s for s in after if s.name == "shipyard.node g0_gate")
    assert decided.attributes["shipyard.verdict"] == "approve"

    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration",
            "shipyard.llm.cost", "shipyard.gate.duration"} <= set(first_points)
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration",
            "shipyard.llm.cost", "shipyard.llm.retries", "shipyard.gate.duration",
            "shipyard.gate.verdicts"} <= set(points)
    verdicts = {(p.attributes["shipyard.gate"], p.attributes["shipyard.verdict"]): p.value
                for p in points["shipyard.gate.verdicts"]}
    assert verdicts[("G0", "approve")] == 1 and verdicts[("G5", "pass")] == 1
    assert sum(p.value for p in points["shipyard.llm.retries"]) == 1
    paused_gate = [p for p in first_points["shipyard.gate.duration"]
                   if p.attributes["shipyard.node"] == "g0_gate"]
    assert [p.attributes["shipyard.outcome"] for p in paused_gate] == ["paused"]

    # The metrics' cost is the ledger's cost, call for call.
    with _ledger(repo) as db:
        spent = db.execute("select sum(cost_usd) from llm_calls").fetchone()[0]
        rows = db.execute("select id, span_id, trace_id, agent from llm_calls").fetchall()
        events = db.execute("select span_id from events where span_id is not null").fetchall()
    metric_cost = sum(p.value for pts in (first_points, points)
                      for p in pts["shipyard.llm.cost"])
    assert spent > 0 and metric_cost == pytest.approx(spent)

    # Each ledger row leads to its span, and each model-call span back to its row.
    spans_by_id = {s.context.span_id: s for s in [*before, *after]}
    for row in rows:
        span = spans_by_id[int(row["span_id"], 16)]
        assert span.name == "chat scripted-test"
        assert span.attributes["shipyard.ledger.id"] == row["id"]
        assert span.attributes["shipyard.agent"] == row["agent"]
    assert events and all(int(e["span_id"], 16) in spans_by_id for e in events)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_collector_neither_fails_a_run_nor_holds_its_end(make_repo, monkeypatch):
    import time

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    repo = make_repo()

    out = Runner(repo).start("Add multiply")
    started = time.perf_counter()
    telemetry.shutdown()  # the final flush, at exit
    took = time.perf_counter() - started

    assert (out.status, out.gate) == ("waiting", "G0")
    assert took < 1 + 1.5  # the exporter's timeout, plus the SDK's own bookkeeping


def test_a_misspelt_metrics_exporter_is_a_configuration_error(make_repo, cli, monkeypatch):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    code, _, err = cli("run-feature", "Add multiply", "--repo", make_repo())
    assert code == 2 and "none, console, otlp" in err
