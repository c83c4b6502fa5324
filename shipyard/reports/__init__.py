"""Reports read from the ledger (and git): cost, FOCUS export, DORA, the weekly page.

Plain functions returning dataclasses (`.to_dict()` for JSON), so the CLI, the web
console and scripts share them. Nothing here calls a model or the network.
"""

from __future__ import annotations

from .cost import CostLine, CostReport, PricedCall, cost_report, priced_calls
from .dora import DoraReport, dora_report, mark_failed
from .focus import FOCUS_COLUMNS, focus_rows, write_focus_csv
from .weekly import weekly_data, weekly_html

__all__ = [
    "FOCUS_COLUMNS",
    "CostLine",
    "CostReport",
    "DoraReport",
    "PricedCall",
    "cost_report",
    "dora_report",
    "focus_rows",
    "mark_failed",
    "priced_calls",
    "weekly_data",
    "weekly_html",
    "write_focus_csv",
]
