"""Exceptions a user can act on.

Two roots, as in pydantic-ai / langgraph: :class:`UserError` means "fix your
input or configuration" (exit code 2); :class:`RunError` means "something failed
while running" (exit code 1). Every message names the fix.
"""

from __future__ import annotations

__all__ = [
    "ApproverIsRequester",
    "BudgetExceeded",
    "ConfigError",
    "FeatureTextError",
    "LedgerTampered",
    "ModelError",
    "ModelOutputInvalid",
    "PathEscape",
    "RepoError",
    "RunError",
    "RunNotFound",
    "RunStateConflict",
    "ShipyardError",
    "UserError",
]


class ShipyardError(Exception):
    """Base of every error shipyard raises on purpose."""

    exit_code: int = 1


class UserError(ShipyardError):
    """Bad input or configuration: the user can fix it and try again."""

    exit_code = 2


class RunError(ShipyardError):
    """Something failed while running: a tool, a model, the budget."""

    exit_code = 1


class ConfigError(UserError):
    """`shipyard.toml` or an environment variable is invalid."""


class RepoError(UserError):
    """The target is not a usable git repository (not git, dirty, detached HEAD)."""


class RunNotFound(UserError):
    """No run with that id in this repository."""


class ApproverIsRequester(UserError):
    """The four-eyes rule is on and the person approving is the one who asked for the run."""


class RunStateConflict(UserError):
    """The run cannot take this now: it is not waiting for a decision, or is being driven."""


class FeatureTextError(UserError):
    """The feature request is empty, too long, or not text."""


class ModelError(RunError):
    """The model provider failed with a non-transient error, or retries ran out."""


class ModelOutputInvalid(ModelError):
    """The model's reply did not validate against its schema, even after a repair attempt."""

    def __init__(self, message: str, *, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class BudgetExceeded(RunError):
    """The run's LLM spend reached its budget; raise `[budget] usd` to continue."""


class PathEscape(RunError):
    """An agent tried to write outside its worktree."""


class LedgerTampered(RunError):
    """The ledger's hash chain does not verify."""
