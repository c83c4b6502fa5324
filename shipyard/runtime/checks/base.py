"""The Check contract: `run(ctx) -> CheckResult`, and the results it returns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Protocol

from .policy import CheckPolicy

__all__ = ["Check", "CheckContext", "CheckResult", "Evidence", "Finding", "Status", "sha256_file"]

Status = Literal["pass", "fail", "error", "skipped"]
Severity = Literal["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    path: str | None
    line: int | None
    message: str
    fails: bool = True  # counts toward the check's verdict (False: below the policy's threshold)
    new: bool = True    # introduced by the change (False: already on the base; context only)


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    path: str
    sha256: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    name: str
    status: Status
    findings: tuple[Finding, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    duration_s: float = 0.0
    blocking: bool = True
    summary: str = ""

    @property
    def blocks(self) -> bool:
        """Whether this result stops the gate under the policy it was run with."""
        return self.blocking and self.status in ("fail", "error")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["findings"] = [asdict(f) for f in self.findings]
        d["evidence"] = [asdict(e) for e in self.evidence]
        return d


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckContext:
    """What a check sees: a checkout of `head`, the base commit, and where it may write."""

    repo: Path          # a checkout (worktree) at `head`; checks never write into it
    base: str           # commit sha of the base
    head: str           # commit sha under test
    policy: CheckPolicy
    scratch: Path       # a private temporary directory for reports, coverage files, SBOMs
    changed_files: tuple[str, ...] = ()  # repo-relative paths changed base..head (existing at head)
    parallel: bool = True  # a check may run its own tools concurrently (False: one at a time)
    origin: Path | None = None  # the user's checkout when `repo` is a copy (its .venv lives there)

    @property
    def env_root(self) -> Path:
        """Where the target's own environment (`.venv`) is looked for."""
        return self.origin or self.repo


class Check(Protocol):
    name: str

    def __call__(self, ctx: CheckContext) -> CheckResult: ...


ProgressFn = Callable[[str, CheckResult | None], None]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


