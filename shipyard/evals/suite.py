"""Run the eval suite: every case through its agent, every metric, one row per score.

`run_suite` asks each case's agent through a gateway whose calls land in the target
repository's ledger (one ledger run id per case, `eval-<suite>-<case>`), scores the
answers with the deterministic deepeval metrics (and GEval when a judge is configured)
and stores one `evals` row per (agent, metric) under the suite's id.

Model `reference` answers each case with its labelled reference reply: it needs no
model and checks that data, agents' parsing and metrics agree (every threshold holds).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ulid import ULID

from .cases import Case, load_cases, sample

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime.ledger import Ledger
    from ..runtime.models import ModelRequest, RawReply

__all__ = ["MetricResult", "SuiteResult", "prompt_versions", "run_suite", "stored_results"]

REFERENCE = "reference"


@dataclass(frozen=True, kw_only=True, slots=True)
class MetricResult:
    agent: str
    metric: str
    score: float | None            # None: skipped
    threshold: float
    higher_is_better: bool = True
    n: int = 0
    passed: bool = True
    skipped: str | None = None


@dataclass(kw_only=True)
class SuiteResult:
    suite_id: str
    model: str
    results: list[MetricResult]
    cases: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    prompts: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"suite_id": self.suite_id, "model": self.model, "passed": self.passed,
                "wall_s": round(self.wall_s, 2), "prompts": self.prompts,
                "results": [asdict(r) for r in self.results], "cases": self.cases}


@dataclass
class ReferenceBackend:
    """Answers with the current case's labelled reference reply."""

    case: Case | None = None
    provider: str = REFERENCE
    model: str = REFERENCE

    @property
    def request_params(self) -> dict[str, Any]:
        return {"backend": REFERENCE}

    def request(self, req: ModelRequest) -> RawReply:
        from ..runtime.models import RawReply

        ref = self.case.reference if self.case else None
        content = ref if isinstance(ref, str) else json.dumps(ref)
        return RawReply(content=content, input_tokens=1, output_tokens=1, model=REFERENCE,
                        finish_reason="stop")


def prompt_versions() -> dict[str, str]:
    """Each prompt's card version and the digest of its text: a prompt edit changes it."""
    from importlib import resources

    from ..agents._prompts import load_prompt

    out = {}
    for path in sorted(resources.files("shipyard.prompts").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".md"):
            role = path.name[:-3]
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            out[role] = f"{load_prompt(role).version}+{digest}"
    return out


def run_suite(repo: Path, *, settings: Settings, ledger: Ledger, agent: str | None = None,
              model: str | None = None, per_dataset: int | None = None,
              progress: Callable[[int, int, str], None] | None = None,
              backends: dict[str, Any] | None = None) -> SuiteResult:
    """Run the cases (of one agent) and store the scores. `model` overrides every agent's;
    `backends` maps model strings to ready backends (tests inject prompt-reading fakes)."""
    from ..runtime.models import Gateway
    from . import metrics as m

    cases = sample(load_cases(agent), per_dataset)
    models = settings.models.model_copy(deep=True)
    if model:
        for role in ("planner", "implementer", "security", "test", "sre", "governance",
                     "finops", "docs"):
            setattr(models, role, None)
        models.default = model
    label = model or models.default
    suite_id = f"eval-{ULID()}"
    start = time.perf_counter()
    per_case: list[dict[str, Any]] = []
    scores: dict[tuple[str, str], list[float]] = {}
    reference = ReferenceBackend()
    judge = _judge(settings, ledger, suite_id, repo)
    judged: dict[tuple[str, str], list[float]] = {}
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case.id)
        gw = Gateway(models=models, ledger=ledger, run_id=f"{suite_id}-{case.id}", repo=repo,
                     budget_usd=0.0, sleep=lambda _s: None, retry_backoff_s=0.0)
        gw._backends.update(backends or {})
        reference.case = case
        gw._backends[REFERENCE] = reference
        from .answer import answer

        text, meta = answer(case, gw, sandbox=settings.policy.sandbox)
        row = {"id": case.id, "agent": case.agent, "label": case.label, "error": meta["error"],
               "scores": {}}
        test_case = m.test_case(case, text, meta)
        for spec in m.SPECS:
            if spec.applies(case):
                value = m.make_metric(spec).measure(test_case)
                scores.setdefault((case.agent, spec.name), []).append(value)
                row["scores"][spec.name] = value
        for metric in m.judge_metrics(case.agent, judge):
            value = float(metric.measure(test_case))
            judged.setdefault((case.agent, metric.name), []).append(value)
            row["scores"][metric.name] = value
        per_case.append(row)
    if progress:
        progress(len(cases), len(cases), "done")
    results = _aggregate(scores, judged, cases, judge is not None)
    out = SuiteResult(suite_id=suite_id, model=label, results=results, cases=per_case,
                      wall_s=time.perf_counter() - start, prompts=prompt_versions())
    _store(ledger, out)
    return out


def _aggregate(scores: dict[tuple[str, str], list[float]],
               judged: dict[tuple[str, str], list[float]], cases: list[Case],
               have_judge: bool) -> list[MetricResult]:
    from .metrics import JUDGED, SPECS

    spec_of = {s.name: s for s in SPECS}
    out = []
    for (agent, name), values in sorted(scores.items()):
        spec = spec_of[name]
        score = sum(values) / len(values)
        out.append(MetricResult(agent=agent, metric=name, score=round(score, 4),
                                threshold=spec.threshold, higher_is_better=spec.higher_is_better,
                                n=len(values), passed=spec.passes(score)))
    for (agent, name), values in sorted(judged.items()):
        score = sum(values) / len(values)
        out.append(MetricResult(agent=agent, metric=name, score=round(score, 4), threshold=0.5,
                                n=len(values), passed=score >= 0.5))
    if not have_judge:
        for agent in sorted({c.agent for c in cases} & set(JUDGED)):
            out.append(MetricResult(agent=agent, metric=JUDGED[agent][0], score=None,
                                    threshold=0.5, passed=True, skipped=(
                                        "no judge model configured: set [models] judge in "
                                        "shipyard.toml to score it")))
    return out


def _judge(settings: Settings, ledger: Ledger, suite_id: str, repo: Path) -> Any | None:
    if not settings.models.judge:
        return None
    from .judge import GatewayJudge

    return GatewayJudge(settings, ledger, f"{suite_id}-judge", repo)


def _store(ledger: Ledger, suite: SuiteResult) -> None:
    for r in suite.results:
        ledger.append("evals", run_id=suite.suite_id, agent=r.agent, metric=r.metric,
                      score=r.score, threshold=r.threshold,
                      higher_is_better=r.higher_is_better, n=r.n, passed=r.passed,
                      skipped=r.skipped, model=suite.model, prompts=suite.prompts)
    ledger.event(suite.suite_id, "eval_suite", model=suite.model, passed=suite.passed,
                 wall_s=round(suite.wall_s, 2), cases=len(suite.cases))


def stored_results(ledger: Ledger, suite_id: str) -> list[MetricResult]:
    """The scores a suite stored, as it stored them."""
    rows = ledger.rows("evals", run_id=suite_id)
    return [MetricResult(agent=r["agent"], metric=r["metric"], score=r["score"],
                         threshold=r["threshold"], higher_is_better=bool(r["higher_is_better"]),
                         n=r["n"] or 0, passed=bool(r["passed"]), skipped=r["skipped"])
            for r in rows]
