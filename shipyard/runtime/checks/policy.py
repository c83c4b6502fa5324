"""Policy as code: the `[policy]` table of `shipyard.toml`.

Which checks run, which of them block, and their thresholds. The defaults are
strict: every check blocks, and a check that errors (tool missing, crashed,
timed out) blocks too — an error is never a silent pass.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ALL_CHECKS", "CheckPolicy"]

ALL_CHECKS: tuple[str, ...] = (
    "tests", "lint", "sast", "secrets", "deps", "licenses", "sbom", "hygiene",
)


class CheckPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checks: list[str] = Field(default_factory=lambda: list(ALL_CHECKS),
                              description="Checks to run on every diff.")
    blocking: list[str] = Field(default_factory=lambda: list(ALL_CHECKS),
                                description="Checks whose failure blocks the gate.")
    error_blocks: bool = Field(True, description="A check that errors blocks like a failure.")
    timeout_s: float = Field(600, gt=0, description="Per-check timeout in seconds.")
    test_command: str = Field("pytest", description="The target repository's test command.")
    sandbox: Literal["auto", "required", "off"] = Field(
        "auto", description="Run the target's tests in bubblewrap: auto (when installed), "
                            "required (error without it), off.")
    test_env_fallback: bool = Field(
        False, description="When the isolated test environment cannot be installed (package "
                           "index unreachable), run the tests with the repository's own "
                           "interpreter instead of reporting an error.")
    coverage_min: float = Field(0.0, ge=0, le=100, description="Minimum line coverage, percent.")
    coverage_max_drop: float = Field(2.0, ge=0, le=100,
                                     description="Allowed coverage drop versus base, points.")
    sast_severity: Literal["low", "medium", "high"] = Field(
        "medium", description="Lowest SAST severity that fails the check.")
    license_allow: list[str] = Field(default_factory=lambda: [
        "MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC", "PSF-2.0",
        "Python-2.0", "MPL-2.0", "LGPL-2.1-or-later", "LGPL-3.0-or-later", "Unlicense", "0BSD",
        "Zlib", "CC0-1.0",
    ])
    license_deny: list[str] = Field(default_factory=lambda: [
        "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
        "AGPL-3.0-only", "AGPL-3.0-or-later", "SSPL-1.0",
    ])
    unknown_license: Literal["block", "warn"] = Field(
        "warn", description="A dependency whose license cannot be mapped to SPDX: block or warn.")
    hygiene_severity: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="Lowest hygiene finding severity that fails the check.")
    deps_severity: Literal["low", "medium", "high", "critical"] = Field(
        "low", description="Lowest advisory severity that fails the deps check "
                           "(advisories without a severity count as high).")
    eval_tolerance: float = Field(
        0.05, ge=0, le=1, description="`shipyard release`: how far an eval metric may fall "
                                      "below the last release's score before it counts as a "
                                      "regression.")
    sbom_new_components: Literal["block", "review"] = Field(
        "review", description="New SBOM components: findings for review, or a failure.")
    advisories_missing: Literal["ask", "block"] = Field(
        "ask", description="No advisory database yet: ask the human at G2 and skip deps "
                           "(ask), or make deps an error that blocks every change (block).")
    advisories_db: str | None = Field(
        None, description="Path of the OSV advisory database; default ~/.cache/shipyard/advisories.db")

    @model_validator(mode="after")
    def _known_checks(self) -> CheckPolicy:
        """A typo must not silently switch a control off: every name must be a real check."""
        from . import registered_checks

        known = set(registered_checks())
        for key in ("checks", "blocking"):
            unknown = [n for n in getattr(self, key) if n not in known]
            if unknown:
                raise ValueError(f"unknown check(s) in policy.{key}: {unknown}; known checks "
                                 f"are {sorted(known)}")
        return self

