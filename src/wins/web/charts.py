"""A small server-side SVG chart renderer: stacked vertical bars and grouped horizontal bars.

No library and no script: the SVG is inline in the page, so it prints, scales and works offline. Every chart
has a <title>/<desc> for screen readers, and the pages show the same figures in a table next to it. Its text
grows with the browser's zoom and text size: the stylesheet gives each chart a width in rem (app.css,
`.chart-bars`, `.chart-hbar`), so the drawing and the words in it scale with the reader's font size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))  # pragma: no cover - the loop always returns


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 14, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" {extra}>{escape(text)}</text>'


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for s in series:
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{escape(s.colour)}"/>')
        parts.append(_text(x + 16, y, s.name))
        x += 30 + 8.5 * len(s.name)
    return parts


def _frame(
    width: int, height: int, title: str, desc: str, body: list[str], chart_id: str, kind: str = "bars"
) -> Markup:
    return Markup(
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" fill="#1b1f24">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def stacked_bars(
    chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series], *, y_label: str = ""
) -> Markup:
    """Vertical bars, one per category, stacked by series (e.g. tickets per hour, by service)."""
    width, height = 760, 300
    left, right, top, bottom = 52, 12, 38, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(categories))]
    y_max = _nice_max(max(totals, default=0))
    body = _legend(series, left, 18)
    steps = 5 if f"{y_max:g}"[0] in "15" else 4  # 0-10-20-…-50 or 0-5-10-15-20: whole numbers on the axis
    for k in range(steps + 1):  # grid lines and labels
        value = y_max * k / steps
        y = top + plot_h - plot_h * k / steps
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        body.append(_text(left - 6, y + 4, f"{value:g}", anchor="end", size=13))
    if y_label:
        body.append(_text(12, top + plot_h / 2, y_label, anchor="middle", size=13,
                          extra=f'transform="rotate(-90 12 {top + plot_h / 2:.1f})"'))  # fmt: skip
    slot = plot_w / max(len(categories), 1)
    bar_w = max(4.0, slot * 0.7)
    for i, label in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / y_max
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{escape(s.colour)}">'
                f"<title>{escape(label)} · {escape(s.name)}: {value:g}</title></rect>"
            )
        if len(categories) <= 12 or i % 2 == 0:  # every label while they fit ("08:00" needs ~40 units)
            body.append(_text(left + slot * i + slot / 2, top + plot_h + 18, label, anchor="middle", size=13))
    desc = "; ".join(f"{label}: {total:g}" for label, total in zip(categories, totals, strict=True)) or "No data."
    return _frame(width, height, title, desc, body, chart_id)


def grouped_hbars(
    chart_id: str,
    title: str,
    rows: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Markup:
    """Horizontal bars, one group per row (e.g. average and 90th-percentile wait per service)."""
    bar_h, gap = 20, 14
    group_h = bar_h * len(series) + gap
    left, right, top = 170, 90, 38
    width = 620
    height = top + group_h * max(len(rows), 1) + 10
    plot_w = width - left - right
    values = [v for s in series for v in s.values if v is not None]
    x_max = _nice_max(max(values, default=0))
    body = _legend(series, left, 18)
    for i, row in enumerate(rows):
        y0 = top + group_h * i
        label = row if len(row) <= 22 else row[:21] + "…"
        body.append(_text(left - 8, y0 + bar_h * len(series) / 2 + 4, label, anchor="end"))
        for j, s in enumerate(series):
            value = s.values[i]
            y = y0 + bar_h * j
            if value is None:
                body.append(_text(left + 4, y + bar_h - 4, "no data", size=13, extra='fill="#57606a"'))
                continue
            w = plot_w * value / x_max
            body.append(
                f'<rect x="{left}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 2}" fill="{escape(s.colour)}">'
                f"<title>{escape(row)} · {escape(s.name)}: {escape(fmt(value))}</title></rect>"
            )
            body.append(_text(left + w + 4, y + bar_h - 4, fmt(value), size=13))
    desc = "; ".join(
        f"{row}: " + ", ".join(f"{s.name} {fmt(v) if (v := s.values[i]) is not None else 'no data'}" for s in series)
        for i, row in enumerate(rows)
    ) or "No data."  # fmt: skip
    return _frame(width, height, title, desc, body, chart_id, "hbar")
