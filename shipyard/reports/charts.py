"""Small SVG charts written as text: embedded in the weekly page, nothing fetched to view.

Three shapes cover the page: stacked columns (deployments and failures per week), a line
(lead time per week) and horizontal bars (cost or tokens per agent / model). Drawing
them here keeps the page free of a plotting dependency and byte-for-byte reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

__all__ = ["PALETTE", "bars", "columns", "line"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777")
_FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#374151"'
Fmt = Callable[[float], str]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT} {extra}>'
            f'{escape(text)}</text>')


def columns(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str,
            fmt: Fmt = lambda v: f"{v:g}", width: int = 560, height: int = 220) -> str:
    """Stacked columns, one per label; a legend names the series."""
    left, right, top, bottom = 36, 10, 24, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    step = plot_w / max(len(labels), 1)
    body = _axis(left, top, width - right, plot_h, fmt(peak))
    for i, label in enumerate(labels):
        x, base = left + i * step + step * 0.15, top + plot_h
        for color, values in zip(PALETTE, series.values(), strict=False):
            h = values[i] / peak * plot_h
            if h > 0:
                body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.7:.1f}" '
                            f'height="{h:.1f}" fill="{color}"/>')
            base -= h
        if totals[i]:
            body.append(_text(x + step * 0.35, base - 3, fmt(totals[i]), anchor="middle"))
        body.append(_text(x + step * 0.35, top + plot_h + 14, label[-3:], anchor="middle"))
    body += _legend(list(series), left, height - 8)
    return _svg(width, height, title, body)


def line(labels: Sequence[str], values: Sequence[float | None], *, title: str,
         fmt: Fmt = lambda v: f"{v:g}", width: int = 560, height: int = 200) -> str:
    """A line through the known points; weeks without a value are gaps."""
    left, right, top, bottom = 44, 20, 20, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    peak = max(known, default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)
    body = _axis(left, top, width - right, plot_h, fmt(peak))
    points = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * step
        body.append(_text(x, top + plot_h + 14, label[-3:], anchor="middle"))
        if value is None:
            if len(points) > 1:
                body.append(_polyline(points))
            points = []
            continue
        y = top + plot_h - value / peak * plot_h
        points.append((x, y))
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"/>')
        body.append(_text(x, y - 6, fmt(value), anchor="middle"))
    if len(points) > 1:
        body.append(_polyline(points))
    return _svg(width, height, title, body)


def bars(labels: Sequence[str], values: Sequence[float], *, title: str,
         fmt: Fmt = lambda v: f"{v:g}", width: int = 560, color: str = PALETTE[0]) -> str:
    """Horizontal bars, largest first as given; the value is printed after each bar."""
    row, left, right = 22, 130, 90
    height = max(len(labels), 1) * row + 10
    peak = max(values, default=0) or 1
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row
        w = value / peak * (width - left - right)
        body.append(_text(left - 6, y + 14, label[:22], anchor="end"))
        body.append(f'<rect x="{left}" y="{y + 3:.1f}" width="{max(w, 1):.1f}" height="{row - 6}" '
                    f'fill="{color}"/>')
        body.append(_text(left + w + 6, y + 14, fmt(value)))
    if not labels:
        body.append(_text(width / 2, 20, "no data in this period", anchor="middle"))
    return _svg(width, height, title, body)


def _axis(left: float, top: float, x_end: float, plot_h: float, peak: str) -> list[str]:
    """The baseline, with the top value and 0 at the left."""
    return [(f'<line x1="{left}" y1="{top + plot_h}" x2="{x_end}" y2="{top + plot_h}" '
             f'stroke="#9ca3af"/>'), _text(left - 4, top + 4, peak, anchor="end"),
            _text(left - 4, top + plot_h, "0", anchor="end")]


def _polyline(points: list[tuple[float, float]]) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'


def _legend(names: list[str], x: float, y: float) -> list[str]:
    out = []
    for color, name in zip(PALETTE, names, strict=False):
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(_text(x + 14, y, name))
        x += 24 + 7 * len(name)
    return out
