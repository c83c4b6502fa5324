"""Dates on the command line and in the ledger: `--since`, ISO weeks, timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import UserError

__all__ = ["iso", "parse_since", "parse_ts", "week_of"]

_RELATIVE = re.compile(r"^(\d+)([dw])$")


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """`2026-11-01`, `2026-11-01T09:00`, or relative `7d` / `4w`; None for None."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if (m := _RELATIVE.match(text)):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        return (now or datetime.now(UTC)) - timedelta(days=days)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--since {text!r} is not a date; use YYYY-MM-DD, an ISO date-time, "
                        f"or a span like 7d or 4w.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_ts(text: str) -> datetime:
    """A ledger timestamp (ISO 8601, UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    """The ledger's own format, so timestamps compare as strings in SQL."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def week_of(value: datetime) -> str:
    """ISO week label, e.g. 2026-W48."""
    year, week, _ = value.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"
