"""`shipyard release`: the suite must hold every threshold and regress nothing, then cards.

The suite runs against the configured models and is compared, metric by metric, with
the suite stored by the last successful release in the ledger. A metric regresses when
it is worse than that release's score by more than `[policy] eval_tolerance` (for
"lower is better" metrics such as the false-block rate, when it rises by more). Only a
release with no regression and no threshold failure writes MODEL_CARD.md and
PROMPT_CARDS.md, commits them, tags the release and records it in the ledger; a refused
one is recorded too, with its reasons.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from .suite import MetricResult, SuiteResult, run_suite, stored_results

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime.ledger import Ledger

__all__ = [
    "Regression",
    "ReleaseOutcome",
    "compare",
    "default_version",
    "last_release",
    "release",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Regression:
    agent: str
    metric: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 4)

    def __str__(self) -> str:
        return (f"{self.agent}.{self.metric} regressed: {self.before:.3f} → {self.after:.3f} "
                f"(delta {self.delta:+.3f})")


@dataclass(kw_only=True)
class ReleaseOutcome:
    version: str
    suite: SuiteResult
    previous: str | None
    regressions: list[Regression] = field(default_factory=list)
    below: list[MetricResult] = field(default_factory=list)
    tag: str | None = None
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.regressions and not self.below

    def reasons(self) -> list[str]:
        out = [str(r) for r in self.regressions]
        out += [f"{r.agent}.{r.metric} {r.score:.3f} misses its threshold "
                f"{'≥' if r.higher_is_better else '≤'} {r.threshold}" for r in self.below]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "ok": self.ok, "suite_id": self.suite.suite_id,
                "previous_suite": self.previous, "tag": self.tag, "files": self.files,
                "reasons": self.reasons(),
                "regressions": [{"agent": r.agent, "metric": r.metric, "before": r.before,
                                 "after": r.after, "delta": r.delta} for r in self.regressions],
                "suite": self.suite.to_dict()}


def compare(current: list[MetricResult], previous: list[MetricResult],
            tolerance: float) -> list[Regression]:
    """Metrics worse than the previous release's by more than `tolerance`."""
    before = {(r.agent, r.metric): r for r in previous if r.score is not None}
    out = []
    for r in current:
        old = before.get((r.agent, r.metric))
        if r.score is None or old is None or old.score is None:
            continue
        worse = (old.score - r.score) if r.higher_is_better else (r.score - old.score)
        if worse > tolerance + 1e-9:
            out.append(Regression(agent=r.agent, metric=r.metric, before=old.score,
                                  after=r.score))
    return out


def last_release(ledger: Ledger) -> dict[str, Any] | None:
    """The data of the last `release` event (a successful release), or None."""
    import json

    rows = ledger.rows("events", where="kind = ?", params=["release"])
    return json.loads(rows[-1]["data"]) if rows else None


def default_version(repo: Path) -> str:
    path = repo / "pyproject.toml"
    try:
        return str(tomllib.loads(path.read_text("utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        raise UserError(f"no [project] version in {path}; pass --version X.Y.Z.") from None


def release(repo: Path, *, settings: Settings, ledger: Ledger, version: str | None = None,
            model: str | None = None, per_dataset: int | None = None, progress: Any = None,
            backends: dict[str, Any] | None = None) -> ReleaseOutcome:
    version = version or default_version(repo)
    tag = f"v{version.removeprefix('v')}"
    git = _git(repo)
    if git is not None and git.run("tag", "--list", tag, check=False).strip():
        raise UserError(f"tag {tag} already exists in {repo}; pass another --version.")
    suite = run_suite(repo, settings=settings, ledger=ledger, model=model,
                      per_dataset=per_dataset, progress=progress, backends=backends)
    prev = last_release(ledger)
    previous = stored_results(ledger, prev["suite_id"]) if prev else []
    out = ReleaseOutcome(version=version, suite=suite, previous=prev and prev["suite_id"],
                         regressions=compare(suite.results, previous,
                                             settings.policy.eval_tolerance),
                         below=[r for r in suite.results if not r.passed])
    if not out.ok:
        ledger.event(suite.suite_id, "release_refused", version=version, reasons=out.reasons())
        return out
    from .cards import model_card, prompt_cards

    (repo / "MODEL_CARD.md").write_text(model_card(version, settings, suite), "utf-8")
    (repo / "PROMPT_CARDS.md").write_text(prompt_cards(version, suite), "utf-8")
    out.files = ["MODEL_CARD.md", "PROMPT_CARDS.md"]
    if git is not None:
        git.run("add", "--", *out.files)
        # Only the cards are committed (pathspec), whatever else is staged; an unchanged
        # card set has nothing to commit, which is fine.
        git.run("commit", "-m", f"release {tag}: model and prompt cards", "--", *out.files,
                check=False)
        git.run("tag", "-a", tag, "-m", f"shipyard release {tag} (eval suite {suite.suite_id})")
        out.tag = tag
    ledger.event(suite.suite_id, "release", version=version, tag=out.tag,
                 suite_id=suite.suite_id, previous_suite=out.previous, model=suite.model,
                 at=datetime.now(UTC).isoformat(timespec="seconds"), files=out.files)
    return out


def _git(repo: Path) -> Any | None:
    """A small git runner for the repository, or None when it is not a git checkout."""
    import subprocess

    if not (repo / ".git").exists():
        return None

    class _Git:
        def run(self, *args: str, check: bool = True) -> str:
            proc = subprocess.run(["git", "-C", str(repo), *args], check=False, capture_output=True,
                                  text=True, errors="replace")
            if check and proc.returncode:
                raise UserError(f"git {' '.join(args[:2])} failed in {repo}: "
                                f"{proc.stderr.strip()[:300]}")
            return proc.stdout

    return _Git()
