"""Benchmark the embedded local model: gateway vs llama-cpp-python called directly.

    .venv/bin/python benchmarks/local_model.py               # cold start + tok/s, 3 rounds
    .venv/bin/python benchmarks/local_model.py --demo        # also time `make demo`'s run
    .venv/bin/python benchmarks/local_model.py --json        # one JSON object on stdout

What it measures, in one process and one run:

- server cold start: `ensure_server()` from nothing to a healthy /v1/models;
- tokens/s through the gateway (shipyard.runtime.models.Gateway.complete: the
  langchain-openai backend, HTTP to the llama.cpp server, pydantic validation and
  the ledger row) against `llama_cpp.Llama.create_chat_completion` in this process,
  with the same messages, the same `response_format={"type": "json_object",
  "schema": ...}`, the same max_tokens and temperature 0. Rounds alternate which
  side goes first; medians are reported. tok/s = completion tokens / wall time of
  the call (prompt processing included, as a user experiences it);
- with --demo: wall time of scripts/demo.py on a fresh copy of the sample app,
  approving automatically.

Target: gateway overhead <= 10% (gateway tok/s >= 0.9 x direct tok/s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
PROMPT = [
    {"role": "system", "content": "You are the Planner of a small Python team. Be concrete."},
    {"role": "user", "content": "Plan this feature for the textkit package: add a "
                                "slugify(text) helper that lowercases text and joins words "
                                "with hyphens. Give six steps and three risks, each one full "
                                "sentence."},
]


class Plan(BaseModel):
    """The schema both sides generate against (bounded, so generation terminates)."""

    title: str = Field(max_length=80)
    steps: list[Annotated[str, Field(max_length=120)]] = Field(max_length=6)
    risks: list[Annotated[str, Field(max_length=120)]] = Field(max_length=3)


@dataclass
class Sample:
    side: str
    completion_tokens: int
    prompt_tokens: int
    seconds: float

    @property
    def tok_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--demo", action="store_true", help="also time the demo run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    from shipyard.runtime._local_server import _cpu_count
    from shipyard.runtime.local import ensure_server, resolve_gguf, stop_servers

    gguf = resolve_gguf(progress=_say)
    threads = _cpu_count()
    t0 = time.perf_counter()
    server = ensure_server(gguf, progress=_say)
    cold_start = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        gateway = _gateway(Path(tmp), args.max_tokens)
        direct = _direct(gguf, threads)
        messages = _final_messages()
        schema = Plan.model_json_schema()
        samples: list[Sample] = []
        _gateway_call(gateway)  # warm-up: first request pays for grammar + prompt cache setup
        _direct_call(direct, messages, schema, args.max_tokens)
        for i in range(args.rounds):
            order = ("gateway", "direct") if i % 2 == 0 else ("direct", "gateway")
            for side in order:
                if side == "gateway":
                    samples.append(_gateway_call(gateway))
                else:
                    samples.append(_direct_call(direct, messages, schema, args.max_tokens))
                last = samples[-1]
                _say(f"round {i + 1} {side}: {last.prompt_tokens} prompt + "
                     f"{last.completion_tokens} completion tokens in {last.seconds:.2f}s = "
                     f"{last.tok_s:.1f} tok/s")
    stop_servers()

    # Other work on the machine skews tok/s: record the load next to the figures.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {"server": server.model, "threads": threads, "max_tokens": args.max_tokens,
              "load_avg_1m": load,
              "cold_start_s": round(cold_start, 2), **_summarise(samples)}
    if args.demo:
        result["demo_wall_s"] = _time_demo()
    _report(result, as_json=args.json)
    return 0


# -- the two sides ---------------------------------------------------------------------------
def _gateway(tmp: Path, max_tokens: int):  # -> shipyard.runtime.models.Gateway
    from shipyard.config import ModelsConfig
    from shipyard.runtime.ledger import Ledger
    from shipyard.runtime.models import Gateway

    models = ModelsConfig(default="local", temperature=0, max_tokens=max_tokens)
    return Gateway(models=models, ledger=Ledger(tmp / "ledger.db"), run_id="bench",
                   budget_usd=1.0)


def _gateway_call(gateway) -> Sample:
    t0 = time.perf_counter()
    reply = gateway.complete("planner", PROMPT, schema=Plan, task="bench")
    seconds = time.perf_counter() - t0
    return Sample("gateway", reply.output_tokens, reply.input_tokens, seconds)


def _final_messages() -> list[dict[str, str]]:
    """The exact messages the gateway sends: it appends the schema instruction."""
    from shipyard.runtime import models

    return models._with_schema_instruction([dict(m) for m in PROMPT], Plan.model_json_schema())


def _direct(gguf: Path, threads: int):  # -> llama_cpp.Llama
    from shipyard.runtime.local import patch_llama_cpp

    patch_llama_cpp()  # the same grammar fix and AMX workaround the server applies
    from llama_cpp import Llama

    # Same settings as ensure_server(): n_ctx 8192, all cores for generation and batches.
    return Llama(model_path=str(gguf), n_ctx=8192, n_threads=threads, n_threads_batch=threads,
                 use_mlock=False, verbose=False)


def _direct_call(llm, messages: list[dict[str, str]], schema: dict, max_tokens: int) -> Sample:
    t0 = time.perf_counter()
    out = llm.create_chat_completion(messages=messages, temperature=0, max_tokens=max_tokens,
                                     response_format={"type": "json_object", "schema": schema})
    seconds = time.perf_counter() - t0
    Plan.model_validate_json(out["choices"][0]["message"]["content"])  # same check as gateway
    usage = out["usage"]
    return Sample("direct", usage["completion_tokens"], usage["prompt_tokens"], seconds)


# -- demo and report -------------------------------------------------------------------------
def _time_demo() -> float:
    _say("timing the demo run (scripts/demo.py, auto-approving)…")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "run"],
                   stdin=subprocess.DEVNULL, check=False, env={**os.environ})
    return round(time.perf_counter() - t0, 1)


def _summarise(samples: list[Sample]) -> dict:
    def med(side: str, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples if s.side == side)

    gw, dr = med("gateway", "tok_s"), med("direct", "tok_s")
    return {
        "gateway_tok_s": round(gw, 1),
        "direct_tok_s": round(dr, 1),
        "gateway_over_direct": round(gw / dr, 3) if dr else None,
        "gateway_overhead_pct": round(100 * (1 - gw / dr), 1) if dr else None,
        "gateway_prompt_tokens": med("gateway", "prompt_tokens"),
        "direct_prompt_tokens": med("direct", "prompt_tokens"),
        "samples": [{**asdict(s), "tok_s": round(s.tok_s, 2)} for s in samples],
    }


def _report(result: dict, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    print(f"model                 {result['server']} ({result['threads']} threads)")
    print(f"server cold start     {result['cold_start_s']:.2f} s")
    if result.get("load_avg_1m") is not None:
        print(f"load average (1 min)  {result['load_avg_1m']:.2f} at the end of the rounds")
    print(f"direct llama_cpp      {result['direct_tok_s']:.1f} tok/s (median, schema-constrained)")
    print(f"through the gateway   {result['gateway_tok_s']:.1f} tok/s")
    print(f"gateway / direct      {result['gateway_over_direct']:.3f}  "
          f"(overhead {result['gateway_overhead_pct']:.1f}%, target <= 10%)")
    if "demo_wall_s" in result:
        print(f"demo run wall time    {result['demo_wall_s']:.0f} s")


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
