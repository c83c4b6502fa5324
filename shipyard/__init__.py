"""shipyard: AI agents take a feature request to a merged, signed, documented change.

The public API. Everything else is machinery and may change::

    from shipyard import Runner
    out = Runner("./app").start("Add a slugify() helper")
    if out.status == "waiting":
        out = Runner("./app").decide(out.run_id, "approve", comment="ok")

Heavy libraries (LangGraph, langchain, litellm) load on first use, so importing
shipyard — and `shipyard --help` — stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BudgetExceeded,
    ConfigError,
    FeatureTextError,
    LedgerTampered,
    ModelError,
    ModelOutputInvalid,
    PathEscape,
    RepoError,
    RunError,
    RunNotFound,
    ShipyardError,
    UserError,
)

if TYPE_CHECKING:
    from .config import Settings, load_settings
    from .graphs.feature import build_feature_graph
    from .runner import Outcome, Runner
    from .runtime.ledger import Ledger
    from .runtime.models import Gateway, Reply

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "FeatureTextError",
    "Gateway",
    "Ledger",
    "LedgerTampered",
    "ModelError",
    "ModelOutputInvalid",
    "Outcome",
    "PathEscape",
    "Reply",
    "RepoError",
    "RunError",
    "RunNotFound",
    "Runner",
    "Settings",
    "ShipyardError",
    "UserError",
    "__version__",
    "build_feature_graph",
    "load_settings",
]

_LAZY = {
    "Runner": ("runner", "Runner"), "Outcome": ("runner", "Outcome"),
    "Settings": ("config", "Settings"), "load_settings": ("config", "load_settings"),
    "build_feature_graph": ("graphs.feature", "build_feature_graph"),
    "Ledger": ("runtime.ledger", "Ledger"), "Gateway": ("runtime.models", "Gateway"),
    "Reply": ("runtime.models", "Reply"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
