"""tooling: are the scanners the checks rely on installed, and is there an advisory database?

G2 runs this on the base before any work starts, so a missing tool is found
before a change is built, not after.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ..proc import run as run_proc
from ._util import TOOL_PACKAGES, tool
from .base import CheckContext, CheckResult, Finding
from .policy import CheckPolicy

NAME = "tooling"
# tool -> (the check that needs it, the pip package that provides it)
_NEEDED_BY = {"ruff": "lint, sast", "bandit": "sast", "detect-secrets": "secrets",
              "cyclonedx-py": "sbom", "pip-licenses": "licenses", "git": "all"}
TOOLS = {t: (needed_by, TOOL_PACKAGES.get(t, f"{t} (system package)"))
         for t, needed_by in _NEEDED_BY.items()}


def _needed(policy: CheckPolicy) -> list[str]:
    """Only the tools of the checks the policy runs: a repo that does not run `sbom`
    is not missing anything when cyclonedx-py is absent."""
    enabled = set(policy.checks)
    return [t for t, (needed_by, _) in TOOLS.items()
            if needed_by == "all" or enabled & {c.strip() for c in needed_by.split(",")}]


def status(policy: CheckPolicy) -> CheckResult:
    started = time.perf_counter()
    needed = _needed(policy)
    with ThreadPoolExecutor(max_workers=len(needed)) as pool:
        results = dict(zip(needed, pool.map(
            lambda t: run_proc([tool(t), "--version"], cwd=".", timeout=60), needed), strict=True))
    findings = []
    for name, res in results.items():
        if not res.ok:
            needed_by, package = TOOLS[name]
            why = "not installed" if res.missing else f"`{name} --version` failed"
            findings.append(Finding(rule=f"tooling.{name}", severity="high", path=None, line=None,
                                    message=f"{name} {why} (needed by {needed_by}); "
                                            f"pip install {package}"))
    from ..sandbox import bwrap_path

    if "tests" in policy.checks and policy.sandbox != "off" and bwrap_path() is None:
        findings.append(Finding(rule="tooling.sandbox", severity="high", path=None, line=None,
                                message="bubblewrap (bwrap) is not installed: model-written tests "
                                        "would run without a sandbox; apt-get install bubblewrap "
                                        "(or set [policy] sandbox = \"off\" to accept the risk)"))
    from ..advisories import AdvisoryDB, default_db_path, first_run_hint

    db = default_db_path(policy)
    wants_db = "deps" in policy.checks
    if wants_db and (not db.is_file() or AdvisoryDB(db).count() == 0):
        then = ("deps blocks every change until then" if policy.advisories_missing == "block"
                else "until then deps is skipped")
        findings.append(Finding(rule="tooling.advisories", severity="high", path=None, line=None,
                                message=f"{first_run_hint(db)} ({then}; "
                                        f"[policy] advisories_missing)"))
    return CheckResult(name=NAME, status="fail" if findings else "pass", findings=tuple(findings),
                       duration_s=time.perf_counter() - started,
                       summary=f"{len(needed) + wants_db - len(findings)}/"
                               f"{len(needed) + wants_db} available")


def run(ctx: CheckContext) -> CheckResult:
    return status(ctx.policy)
