"""DORA's four keys from the ledger and the base branch's git history.

- **Deployment frequency**: merged runs per week (a shipyard merge is the deployment).
- **Lead time for changes**: kickoff (the run's first ledger row) to the merge commit.
- **Change failure rate**: merged runs later marked failed (`shipyard mark-failed RUN
  --reason …`) or reverted on the base branch (a commit whose message says `This reverts
  commit <merge sha>`, as `git revert -m 1` writes), over merged runs.
- **Time to restore**: from the failed merge to its revert, or, for a change marked
  failed, to the next merge on the same branch after the mark (a fix forward). A failure
  with neither is open and counted as such, not as a time.

Merge times come from git (the merge commit with the `Shipyard-Run:` trailer) and fall
back to the run's `run_ended` row when the branch is gone.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import RunNotFound, UserError
from ..runtime.ledger import Ledger
from ._period import iso, parse_ts, week_of

__all__ = ["Change", "DoraReport", "WeekDora", "dora_report", "event_data", "mark_failed"]

_RUN_TRAILER = re.compile(r"^Shipyard-Run:\s*(\S+)\s*$", re.MULTILINE)
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One merged run: a deployment."""

    run_id: str
    feature: str
    base_branch: str
    kickoff: str
    merged_at: str
    merge_sha: str | None
    lead_time_s: float
    failed: bool = False
    failure: str | None = None  # "marked" | "reverted" | "marked+reverted"
    reason: str | None = None
    restored_at: str | None = None
    restore_s: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class WeekDora:
    week: str
    deployments: int
    failures: int
    change_failure_rate: float | None
    lead_time_median_s: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class DoraReport:
    since: str
    until: str
    days: float
    deployments: int
    deployments_per_week: float
    lead_time_median_s: float | None
    lead_time_p90_s: float | None
    failures: int
    change_failure_rate: float | None
    time_to_restore_median_s: float | None
    open_failures: int
    runs_failed_before_merge: int
    weeks: list[WeekDora] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Commit:
    sha: str
    at: datetime
    message: str


def dora_report(ledger: Ledger, repo: Path | None, *, since: datetime | None = None,
                now: datetime | None = None) -> DoraReport:
    """The four keys over `since`..`now` (default: from the first run until now)."""
    now = now or datetime.now(UTC)
    runs = ledger.rows("runs")
    events = _events_by_run(ledger)
    commits = {b: _history(repo, b) for b in {r["base_branch"] for r in runs}} if repo else {}
    changes = [c for r in runs if (c := _change(r, events.get(r["run_id"], {}), commits))]
    # as of `now`: a revert, mark or fix after it has not happened yet
    changes = _with_failures(changes, events, commits, now)
    start = since or min((parse_ts(r["ts"]) for r in runs), default=now)
    window = [c for c in changes if start <= parse_ts(c.merged_at) <= now]
    failed_early = sum(1 for r in runs if start <= parse_ts(r["ts"]) <= now
                       and events.get(r["run_id"], {}).get("run_ended", {}).get("status")
                       in ("failed", "rejected"))
    days = max((now - start).total_seconds() / 86400, 1.0)
    leads = [c.lead_time_s for c in window]
    failures = [c for c in window if c.failed]
    restores = [c.restore_s for c in failures if c.restore_s is not None]
    return DoraReport(
        since=iso(start), until=iso(now), days=round(days, 2), deployments=len(window),
        deployments_per_week=round(len(window) / days * 7, 3),
        lead_time_median_s=statistics.median(leads) if leads else None,
        lead_time_p90_s=_p90(leads), failures=len(failures),
        change_failure_rate=len(failures) / len(window) if window else None,
        time_to_restore_median_s=statistics.median(restores) if restores else None,
        open_failures=len(failures) - len(restores), runs_failed_before_merge=failed_early,
        weeks=_weeks(window, start, now), changes=window)


def mark_failed(ledger: Ledger, run_id: str, *, reason: str, who: str) -> dict[str, Any]:
    """Record that a merged run's change failed in production (DORA's change failure)."""
    if not reason.strip():
        raise UserError("mark-failed needs --reason saying what failed (it goes into the "
                        "ledger and the weekly report).")
    if run_id not in ledger.run_ids():
        raise RunNotFound(f"no run {run_id!r} in this ledger; `shipyard runs` lists them.")
    ended = [r for r in ledger.rows("events", run_id=run_id, where="kind = 'run_ended'")]
    status = event_data(ended[-1]).get("status") if ended else "running"
    if status != "merged":
        raise UserError(f"run {run_id} has not merged (status: {status}); only a merged "
                        f"change can fail after deployment.")
    if ledger.count("events", run_id=run_id, where="kind = 'change_failed'"):
        raise UserError(f"run {run_id} is already marked failed (`shipyard log {run_id}`).")
    return ledger.event(run_id, "change_failed", gate="G8", reason=reason.strip(), who=who)


# --------------------------------------------------------------------------- internals


def event_data(row: dict[str, Any]) -> dict[str, Any]:
    """An event row's `data` as a dict ({} when it is not one)."""
    import json

    try:
        value = json.loads(row.get("data") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _events_by_run(ledger: Ledger) -> dict[str, dict[str, dict[str, Any]]]:
    """run -> kind -> the latest event of that kind (its data, plus `ts`)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in ledger.rows("events", where="kind IN ('run_ended', 'dora', 'change_failed')"):
        out.setdefault(row["run_id"], {})[row["kind"]] = {**event_data(row), "ts": row["ts"]}
    return out


def _history(repo: Path, branch: str) -> list[_Commit]:
    """Every commit reachable from `branch`, with its committer time and message."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "log", "--format=%H%x1f%cI%x1f%B%x1e",
                              f"refs/heads/{branch}", "--"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    commits = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 3:
            commits.append(_Commit(parts[0], parse_ts(parts[1]), parts[2]))
    return commits


def _change(run: dict[str, Any], events: dict[str, dict[str, Any]],
            commits: dict[str, list[_Commit]]) -> Change | None:
    run_id, branch = run["run_id"], run["base_branch"]
    merge = next((c for c in commits.get(branch, [])
                  if run_id in _RUN_TRAILER.findall(c.message)), None)
    ended = events.get("run_ended", {})
    if merge is None and ended.get("status") != "merged":
        return None
    merged_at = merge.at if merge else parse_ts(ended["ts"])
    kickoff = parse_ts(run["ts"])
    return Change(run_id=run_id, feature=(run["feature"] or "")[:120], base_branch=branch,
                  kickoff=iso(kickoff), merged_at=iso(merged_at),
                  merge_sha=merge.sha if merge else events.get("dora", {}).get("merge_sha"),
                  lead_time_s=max((merged_at - kickoff).total_seconds(), 0.0))


def _with_failures(changes: list[Change], events: dict[str, dict[str, dict[str, Any]]],
                   commits: dict[str, list[_Commit]], now: datetime) -> list[Change]:
    from dataclasses import replace

    out = []
    for change in changes:
        marked = events.get(change.run_id, {}).get("change_failed")
        if marked and parse_ts(marked["ts"]) > now:
            marked = None
        revert = _revert_of(change, [c for c in commits.get(change.base_branch, [])
                                     if c.at <= now])
        if not marked and revert is None:
            out.append(change)
            continue
        kind = "+".join(k for k, v in (("marked", marked), ("reverted", revert)) if v)
        restored = revert.at if revert else _next_merge(change, changes,
                                                        parse_ts(marked["ts"]), now)  # type: ignore[index]
        reason = (marked or {}).get("reason") or (f"reverted by {revert.sha[:10]}"
                                                  if revert else None)
        merged = parse_ts(change.merged_at)
        out.append(replace(change, failed=True, failure=kind, reason=reason,
                           restored_at=iso(restored) if restored else None,
                           restore_s=(restored - merged).total_seconds() if restored else None))
    return out


def _revert_of(change: Change, history: list[_Commit]) -> _Commit | None:
    if not change.merge_sha:
        return None
    reverts = [c for c in history for sha in _REVERTS.findall(c.message)
               if change.merge_sha.startswith(sha)]
    return min(reverts, key=lambda c: c.at, default=None)


def _next_merge(change: Change, changes: list[Change], after: datetime,
                now: datetime) -> datetime | None:
    later = [parse_ts(c.merged_at) for c in changes
             if c.base_branch == change.base_branch and c.run_id != change.run_id
             and after < parse_ts(c.merged_at) <= now]
    return min(later, default=None)


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _weeks(changes: list[Change], start: datetime, now: datetime) -> list[WeekDora]:
    """Every ISO week from `start` to `now`, empty weeks included, for trend charts."""
    labels: list[str] = []
    day = start
    while day <= now + timedelta(days=6):
        if (label := week_of(min(day, now))) not in labels:
            labels.append(label)
        day += timedelta(days=7)
    by_week: dict[str, list[Change]] = {label: [] for label in labels}
    for change in changes:
        by_week.setdefault(week_of(parse_ts(change.merged_at)), []).append(change)
    weeks = []
    for label in sorted(by_week):
        group = by_week[label]
        failed = sum(c.failed for c in group)
        leads = [c.lead_time_s for c in group]
        weeks.append(WeekDora(week=label, deployments=len(group), failures=failed,
                              change_failure_rate=failed / len(group) if group else None,
                              lead_time_median_s=statistics.median(leads) if leads else None))
    return weeks
