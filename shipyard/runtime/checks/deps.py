"""deps: known vulnerabilities of the declared dependencies, from the local OSV database.

Pinned requirements (`==`) are matched offline against the advisory database
(`shipyard advisories import|update`). No database is an error naming the
command that fixes it — never a silent pass, which is what `pip-audit`
offline does. Unpinned requirements cannot be matched to one version; the
hygiene check reports them.
"""

from __future__ import annotations

import json
import re
import time

from ..advisories import AdvisoryDB, NoAdvisoryDatabase, default_db_path
from ._util import (
    DeclaredDep,
    declared_dependencies,
    evidence,
    finish,
    read_base,
    read_head,
    tracked_files,
)
from .base import CheckContext, CheckResult, Finding

NAME = "deps"
_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def run(ctx: CheckContext) -> CheckResult:
    started = time.perf_counter()
    tracked = tracked_files(ctx.repo, ctx.head)
    deps = declared_dependencies(read_head(ctx), tracked)
    pinned = [d for d in deps if d.pinned]
    added = new_dependency_findings(ctx, deps, tracked)
    threshold = _RANK[ctx.policy.deps_severity]
    added_fail = any(_RANK[f.severity] >= threshold for f in added)
    if not pinned:
        # Nothing a database could match, so a missing database is no reason to block an
        # offline run; dependencies the change adds unpinned are findings all the same.
        return finish(NAME, started, added, failed=added_fail,
                      summary=f"no pinned dependencies to match ({len(deps)} declared, "
                              f"all unpinned); {len(added)} new unpinned or URL dependency(ies)")
    db = AdvisoryDB(default_db_path(ctx.policy))
    try:
        db.require()
    except NoAdvisoryDatabase as exc:
        return _no_database(ctx, str(exc), time.perf_counter() - started, added)
    findings, matched = list(added), []
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
    return finish(NAME, started, findings, failed=failing > 0 or added_fail,
                  summary=f"{len(matched)} advisory match(es) in {len(pinned)} pinned of "
                          f"{len(deps)} declared dependencies; {len(added)} new unpinned or "
                          f"URL dependency(ies)",
                  evidence=(evidence(report),))


def _no_database(ctx: CheckContext, why: str, duration_s: float,
                 added: list[Finding]) -> CheckResult:
    """First run: no database yet. `advisories_missing = "block"` makes that an error that
    blocks; the default ("ask") skips the check, since G2 already asked the human about it."""
    blocks = ctx.policy.advisories_missing == "block"
    status = "error" if blocks else ("fail" if added else "skipped")
    return CheckResult(name=NAME, status=status,
                       summary="no advisory database yet (first run)",
                       duration_s=duration_s,
                       findings=(Finding(rule="deps.no-database", path=None, line=None,
                                         severity="high" if blocks else "info", fails=blocks,
                                         message=why), *added))


_REQ_OPTION = re.compile(r"^\s*(-i\b|--index-url|--extra-index-url|-f\b|--find-links|"
                         r"--trusted-host|-e\b|--editable|git\+|hg\+|svn\+|https?:|file:)")


def new_dependency_findings(ctx: CheckContext, deps: list[DeclaredDep],
                            tracked: list[str]) -> list[Finding]:
    """Dependencies the change adds that no advisory database can match: unpinned (any
    version may arrive), or fetched from a URL or another index (anything may arrive)."""
    base_tracked = tracked_files(ctx.repo, ctx.base)
    base_deps = declared_dependencies(read_base(ctx), base_tracked)
    before = {(d.name, d.spec) for d in base_deps}
    # a dependency the base already declared unpinned is no new risk when the change only
    # bounds it (`flit` -> `flit<4.0.0`, more-itertools c69f0f91): invariant 6, the finding
    # is the base's. Unpinning a pinned one is new.
    loose = {d.name for d in base_deps if d.pinned is None}  # names are canonical (PEP 503)
    out = []
    for d in deps:
        if (d.name, d.spec) in before:
            continue
        if "://" in d.spec or " @ " in d.spec or "@" in d.spec.split(";")[0].split("[")[0]:
            out.append(Finding(rule="deps.url-dependency", severity="high", path=d.path,
                               line=d.line, message=f"new dependency {d.spec!r} comes from a URL; "
                                                    f"depend on a released version pinned with =="))
        elif d.pinned is None and d.name not in loose:
            out.append(Finding(rule="deps.unpinned-new", severity="medium", path=d.path,
                               line=d.line, message=f"new dependency {d.spec!r} is not pinned; "
                                                    f"pin it with == so advisories can match it"))
    base_read, head_read = read_base(ctx), read_head(ctx)
    for path in (p for p in tracked if _REQ_FILE.match(p)):
        old = set((base_read(path) or "").splitlines())
        for n, line in enumerate((head_read(path) or "").splitlines(), 1):
            if line not in old and _REQ_OPTION.match(line):
                out.append(Finding(rule="deps.url-dependency", severity="high", path=path, line=n,
                                   message=f"the change adds {line.strip()[:120]!r}: packages "
                                           f"from another index or a URL; a human decides"))
    return out


_REQ_FILE = re.compile(r"^(requirements[^/]*\.txt|requirements/[^/]+\.txt)$")

