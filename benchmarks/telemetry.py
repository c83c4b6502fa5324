"""Benchmark the cost of tracing and metrics on a run (issue 11). Not part of the test suite.

    python benchmarks/telemetry.py [--rounds 3] [--runs 3]

A full run (G0→G8, merge) with the zero-latency scripted model and no tool checks, as in
benchmarks/overhead.py, under four settings, each in its own process (telemetry is
configured once per process):

  off       OTEL_SDK_DISABLED=true: no provider, spans are the API's no-ops (the baseline)
  default   spans to .shipyard/traces.jsonl, metrics off (what a run does out of the box)
  console   spans and metrics to the console (stderr to /dev/null)
  otlp      spans and metrics over OTLP/HTTP to a closed port on 127.0.0.1

Settings alternate round by round so drift on a busy machine hits them alike. Reported:
the median wall time and CPU time (this process, all its threads, not git) per run and
their ratios to `off` from the same invocation (target <= 1.05), and the time
`telemetry.shutdown()` took at exit (bounded by the exporter's timeout when the collector
is unreachable; OTEL_EXPORTER_OTLP_TIMEOUT is set to 2 s here). `--interval-ms` sets
OTEL_METRIC_EXPORT_INTERVAL (the SDK's default, 60 s, exports a short run's metrics only at
exit; 1000 exports them during the run too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scenarios(interval_ms: int) -> dict[str, dict[str, str]]:
    port = _closed_port()
    interval = str(interval_ms)
    return {
        "off": {"OTEL_SDK_DISABLED": "true"},
        "default": {},
        "console": {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console",
                    "OTEL_METRIC_EXPORT_INTERVAL": interval},
        "otlp": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                 "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
                 "OTEL_METRIC_EXPORT_INTERVAL": interval},
    }


def child(runs: int) -> None:
    """In a fresh process: one warm-up run, then `runs` timed runs; print JSON."""
    sys.path.insert(0, str(ROOT))
    from overhead import shipyard_run

    from shipyard.runtime import telemetry

    times, cpu = [], []
    for i in range(runs + 1):
        with tempfile.TemporaryDirectory() as d:
            before = _cpu()
            elapsed, nodes, _ = shipyard_run(Path(d))
            used = _cpu() - before
        if i:  # the first run pays for imports and caches
            times.append(elapsed)
            cpu.append(used)
    start = time.perf_counter()
    telemetry.shutdown()
    print(json.dumps({"times": times, "cpu": cpu, "nodes": nodes,
                      "shutdown_s": time.perf_counter() - start}))


def _cpu() -> float:
    """CPU seconds of this process, every thread (the exporters' too), not its children (git):
    steadier than wall time on a machine other work is loading."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per process")
    parser.add_argument("--interval-ms", type=int, default=60_000,
                        help="OTEL_METRIC_EXPORT_INTERVAL for console and otlp")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.runs)
        return
    base_env = {**os.environ, "SHIPYARD_HOME": tempfile.mkdtemp(prefix="shipyard-bench-home-"),
                "GIT_AUTHOR_NAME": "bench", "GIT_COMMITTER_NAME": "bench",
                "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED",
                "SHIPYARD_OTEL_CONSOLE"):
        base_env.pop(key, None)
    scenarios = _scenarios(args.interval_ms)
    times: dict[str, list[float]] = {name: [] for name in scenarios}
    cpu: dict[str, list[float]] = {name: [] for name in scenarios}
    shutdowns: dict[str, list[float]] = {name: [] for name in scenarios}
    nodes = 0
    for rnd in range(args.rounds):
        order = list(scenarios)[rnd % len(scenarios):] + list(scenarios)[:rnd % len(scenarios)]
        for name in order:
            proc = subprocess.run([sys.executable, __file__, "--child", "--runs", str(args.runs)],
                                  env={**base_env, **scenarios[name]}, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            times[name] += result["times"]
            cpu[name] += result["cpu"]
            shutdowns[name].append(result["shutdown_s"])
            nodes = result["nodes"]
    base, base_cpu = statistics.median(times["off"]), statistics.median(cpu["off"])
    print(f"full run, scripted model, no checks ({nodes} node executions); "
          f"{args.rounds} rounds x {args.runs} runs per setting, metrics every "
          f"{args.interval_ms} ms; target ratio <= 1.05")
    for name in scenarios:
        wall, used = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"  {name:8s} wall {wall * 1000:6.0f} ms/run (x{wall / base:5.3f})  "
              f"cpu {used * 1000:6.0f} ms/run (x{used / base_cpu:5.3f})  "
              f"shutdown {statistics.median(shutdowns[name]) * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
