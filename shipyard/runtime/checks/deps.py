"""deps: known vulnerabilities of the declared dependencies, from the local OSV database.

Pinned requirements (`==`) are matched offline against the advisory database
(`shipyard advisories import|update`). No database is an error naming the
command that fixes it — never a silent pass, which is what `pip-audit`
offline does. Unpinned requirements cannot be matched to one version; the
hygiene check reports them.
"""

from __future__ import annotations

import json
import time

from ..advisories import AdvisoryDB, NoAdvisoryDatabase, default_db_path
from ._util import declared_dependencies, evidence, finish, read_head, tracked_files
from .base import CheckContext, CheckResult, Finding

NAME = "deps"
_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    tracked = tracked_files(ctx.repo, ctx.head)
    deps = declared_dependencies(read_head(ctx), tracked)
    pinned = [d for d in deps if d.pinned]
    if not pinned:
        # Nothing a database could match (unpinned requirements are hygiene's job), so a
        # missing database is no reason to block an offline run.
        return CheckResult(name=NAME, status="pass", duration_s=time.perf_counter() - started,
                           summary=f"no pinned dependencies to match ({len(deps)} declared, "
                                   f"all unpinned: see hygiene)")
    db = AdvisoryDB(default_db_path(ctx.policy))
    try:
        db.require()
    except NoAdvisoryDatabase as exc:
        return _no_database(ctx, str(exc), time.perf_counter() - started)
    findings, matched = [], []
    threshold = _RANK[ctx.policy.deps_severity]
    failing = 0
    for dep in pinned:
        for adv in db.lookup(dep.name, dep.pinned or ""):
            sev = adv.severity or "high"  # unrated advisories are not waved through
            fix = f"; fixed in {', '.join(adv.fixed)}" if adv.fixed else "; no fixed version"
            alias = f" ({', '.join(adv.aliases[:2])})" if adv.aliases else ""
            fails = _RANK[sev] >= threshold
            findings.append(Finding(rule=f"deps.{adv.id}", severity=sev, path=dep.path,
                                    line=dep.line, fails=fails, message=f"{dep.name}=={dep.pinned}: "
                                    f"{adv.id}{alias} {adv.summary[:200]}{fix}"))
            matched.append({"package": dep.name, "version": dep.pinned, "advisory": adv.id})
            failing += fails
    report = ctx.scratch / "deps.json"
    report.write_text(json.dumps({"database": str(db.path), "meta": db.meta(),
                                  "checked": [d.spec for d in pinned], "matches": matched},
                                 indent=1))
    return finish(NAME, started, findings, failed=failing > 0,
                  summary=f"{len(findings)} advisory match(es) in {len(pinned)} pinned of "
                          f"{len(deps)} declared dependencies",
                  evidence=(evidence(report),))


def _no_database(ctx: CheckContext, why: str, duration_s: float) -> CheckResult:
    """First run: no database yet. `advisories_missing = "block"` makes that an error that
    blocks; the default ("ask") skips the check, since G2 already asked the human about it."""
    blocks = ctx.policy.advisories_missing == "block"
    return CheckResult(name=NAME, status="error" if blocks else "skipped",
                       summary="no advisory database yet (first run)",
                       duration_s=duration_s,
                       findings=(Finding(rule="deps.no-database", path=None, line=None,
                                         severity="high" if blocks else "info", fails=blocks,
                                         message=why),))
