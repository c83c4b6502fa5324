"""The observability stack (`docker-compose.yml`): pinned images, loopback-only ports, configs
that parse, and a dashboard that queries the metrics shipyard actually exports.

Docker does not run here; what can be checked without it is checked, with real binaries
where Debian has them (`promtool`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "deploy" / "observability"
DIGEST = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((STACK / "grafana" / "dashboards" / "shipyard-runs.json").read_text())


def test_the_stack_has_collector_jaeger_prometheus_and_grafana(compose):
    assert set(compose["services"]) == {"otel-collector", "jaeger", "prometheus", "grafana"}


def test_every_image_is_pinned_by_digest(compose):
    for name, service in compose["services"].items():
        assert DIGEST.match(service["image"]), f"{name}: {service['image']} is not tag@sha256"


def test_every_port_is_bound_to_loopback(compose):
    published = [(name, port) for name, service in compose["services"].items()
                 for port in service.get("ports", [])]
    assert published
    for name, port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    assert ("otel-collector", "127.0.0.1:4318:4318") in published  # where shipyard sends


def test_every_mounted_file_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_collector_pipelines_use_only_defined_components():
    config = yaml.safe_load((STACK / "otel-collector.yaml").read_text())
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), (kind, pipeline[kind])
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    prometheus = yaml.safe_load((STACK / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]]
    assert "otel-collector:8889" in targets
    assert config["exporters"]["prometheus"]["endpoint"].endswith(":8889")


def test_grafana_provisioning_parses_and_points_at_the_stack():
    sources = yaml.safe_load((STACK / "grafana/provisioning/datasources/datasources.yaml")
                             .read_text())["datasources"]
    assert {(s["type"], s["url"]) for s in sources} == {
        ("prometheus", "http://prometheus:9090"), ("jaeger", "http://jaeger:16686")}
    providers = yaml.safe_load((STACK / "grafana/provisioning/dashboards/dashboards.yaml")
                               .read_text())["providers"]
    assert providers[0]["options"]["path"] == "/etc/grafana/dashboards"


def _exported_names() -> set[str]:
    """The Prometheus names of shipyard's instruments, as the collector's exporter writes
    them: dots to underscores, the unit as a suffix, `_total` on counters, histogram series."""
    from opentelemetry.sdk.metrics import MeterProvider

    from shipyard.runtime import metrics

    inst = metrics._instruments(MeterProvider().get_meter("probe"))
    names = set()
    for instrument in vars(type(inst))["__slots__"]:
        i = getattr(inst, instrument)
        base = i.name.replace(".", "_")
        unit = {"s": "_seconds", "USD": "_USD"}.get(i.unit, "")
        if type(i).__name__.endswith("Counter"):
            names.add(f"{base}{unit}_total")
        else:
            names |= {f"{base}{unit}_{s}" for s in ("bucket", "sum", "count")}
    return names


def _queries(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_shows_the_golden_signals_from_metrics_shipyard_exports(dashboard):
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for signal in ("rate", "errors", "duration", "cost"):
        assert signal in titles
    exported = _exported_names()
    used = set()
    for expr in _queries(dashboard):
        used |= set(re.findall(r"\b((?:shipyard|gen_ai)_[a-z_]+?(?:_total|_bucket|_sum|_count))\b",
                               expr))
        # the cost counter is matched by a regex on its name (unit suffix or not)
        used |= {"shipyard_llm_cost_USD_total"} if "shipyard_llm_cost(_USD)?_total" in expr \
            else set()
    assert used and used <= exported, used - exported
    assert {"shipyard_runs_total", "shipyard_llm_cost_USD_total",
            "shipyard_gate_duration_seconds_bucket"} <= used


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (apt-get install prometheus)")
def test_promtool_accepts_the_prometheus_config_and_every_dashboard_query(dashboard, tmp_path):
    check = subprocess.run([PROMTOOL, "check", "config", str(STACK / "prometheus.yml")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr

    # Grafana's range variables are not PromQL: give them the values Grafana would.
    exprs = [e.replace("$__range", "7d").replace("$__rate_interval", "1m")
             for e in _queries(dashboard)]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"shipyard:dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    check = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in check.stdout
