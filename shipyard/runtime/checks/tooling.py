"""tooling: are the scanners the checks rely on installed, and is there an advisory database?

G2 runs this on the base before any work starts, so a missing tool is found
before a change is built, not after.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ..proc import run as run_proc
from ._util import tool
from .base import CheckContext, CheckResult, Finding
from .policy import CheckPolicy

NAME = "tooling"
# tool -> (the check that needs it, the pip package that provides it)
TOOLS = {"ruff": ("lint, sast", "ruff"), "bandit": ("sast", "bandit"),
         "detect-secrets": ("secrets", "detect-secrets"), "cyclonedx-py": ("sbom", "cyclonedx-bom"),
         "pip-licenses": ("licenses", "pip-licenses"), "git": ("all", "git (system package)")}


def status(policy: CheckPolicy) -> CheckResult:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(TOOLS)) as pool:
        results = dict(zip(TOOLS, pool.map(
            lambda t: run_proc([tool(t), "--version"], cwd=".", timeout=60), TOOLS), strict=True))
    findings = []
    for name, res in results.items():
        if not res.ok:
            needed_by, package = TOOLS[name]
            why = "not installed" if res.missing else f"`{name} --version` failed"
            findings.append(Finding(rule=f"tooling.{name}", severity="high", path=None, line=None,
                                    message=f"{name} {why} (needed by {needed_by}); "
                                            f"pip install {package}"))
    from ..advisories import AdvisoryDB, default_db_path

    db = default_db_path(policy)
    if not db.is_file() or AdvisoryDB(db).count() == 0:
        findings.append(Finding(rule="tooling.advisories", severity="high", path=None, line=None,
                                message=f"no advisory database at {db} (needed by deps); run "
                                        f"`shipyard advisories update` or `shipyard advisories "
                                        f"import DIR`"))
    return CheckResult(name=NAME, status="fail" if findings else "pass", findings=tuple(findings),
                       duration_s=time.perf_counter() - started,
                       summary=f"{len(TOOLS) + 1 - len(findings)}/{len(TOOLS) + 1} available")


def run(ctx: CheckContext) -> CheckResult:
    return status(ctx.policy)
