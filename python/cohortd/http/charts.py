"""Charts as server-rendered SVG: nothing to download, readable without scripts.

Every chart has labelled axes (dates on time axes, units in the axis title)
and one ``<circle class="point">`` per data point with a ``<title>`` tooltip,
so a test (or a person hovering) can read the values back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

__all__ = ["heatmap", "line_chart", "sparkline"]

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above the largest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(v: float) -> str:
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if abs(v) >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    y_label: str,
    x_label: str = "date (UTC)",
    time_axis: bool = True,
    y_max: float | None = None,
    width: int = 900,
    height: int = 280,
    css_id: str = "chart",
) -> Markup:
    """Lines of (x, y) points; x is epoch ms when ``time_axis``, else a plain number (e.g. a period)."""
    left, right, top, bottom = 64, 48, 28, 48
    pw, ph = width - left - right, height - top - bottom
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    out = [
        f'<svg id="{escape(css_id)}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(y_label)} by {escape(x_label)}">'
    ]
    if not xs:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>')
        return Markup("".join(out))
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    yt = _nice_ticks(0.0, max(max(ys), 1.0) if y_max is None else y_max)
    y1 = yt[-1]

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + ph - y / y1 * ph

    for t in yt:
        out.append(
            f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    distinct = sorted(set(xs))
    if not time_axis and len(distinct) <= 16:  # periods: one tick per value
        x_ticks = distinct
    else:
        n_x = min(6, len(distinct))
        x_ticks = [x0 + (x1 - x0) * k / max(n_x - 1, 1) for k in range(n_x)]
    for x in x_ticks:
        label = _date(int(x)) if time_axis else _fmt(round(x, 2))
        out.append(
            f'<text class="tick" x="{px(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{label}</text>'
        )
    out.append(
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>'
        f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>'
        f'<text class="label" x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text class="label" transform="translate(14 {top + ph / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for i, (name, pts) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path class="line" d="{path}" stroke="{color}" fill="none" stroke-width="2"/>')
        for x, y in pts:
            where = _date(int(x)) if time_axis else _fmt(x)
            out.append(
                f'<circle class="point" cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}" '
                f'data-x="{x}" data-y="{y}"><title>{escape(name)}: {_fmt(y)} at {where}</title></circle>'
            )
        if len(series) > 1:
            out.append(
                f'<text class="legend" x="{left + 8 + 200 * i}" y="{top - 12}" fill="{color}">'
                f"● {escape(name)}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], width: int = 120, height: int = 28) -> Markup:
    """A tiny line without axes (the catalog); the last value is marked."""
    if not values:
        return Markup("")
    hi, lo = max(values), min(values)
    span = (hi - lo) or 1
    step = width / max(len(values) - 1, 1)
    pts = [(i * step, height - 3 - (v - lo) / span * (height - 6)) for i, v in enumerate(values)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
    lx, ly = pts[-1]
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="size from {_fmt(values[0])} to {_fmt(values[-1])}">'
        f'<path d="{path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>'
        f'<circle class="point" cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" fill="#2563eb"/></svg>'
    )


def _heat(v: float) -> str:
    """White (0) to dark blue (1)."""
    r = int(255 - v * (255 - 30))
    g = int(255 - v * (255 - 64))
    b = int(255 - v * (255 - 175))
    return f"rgb({r},{g},{b})"


def heatmap(names: Sequence[str], values: Sequence[Sequence[float]], cell: int = 44) -> Markup:
    """A square matrix of Jaccard values in [0, 1], one labelled row and column per cohort."""
    label_w = 190
    n = len(names)
    width, height = label_w + n * cell + 150, label_w + n * cell + 8  # room for the slanted labels
    out = [
        f'<svg id="heatmap" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Jaccard overlap of {n} cohorts">'
    ]
    for i, name in enumerate(names):
        short = escape(name if len(name) <= 26 else name[:25] + "…")
        y = label_w + i * cell + cell / 2 + 4
        x = label_w + i * cell + cell / 2
        out.append(f'<text class="tick" x="{label_w - 6}" y="{y}" text-anchor="end">{short}</text>')
        out.append(
            f'<text class="tick" transform="translate({x + 4} {label_w - 6}) rotate(-60)">{short}</text>'
        )
        for j in range(n):
            v = values[i][j]
            cx, cy = label_w + j * cell, label_w + i * cell
            ink = "#fff" if v > 0.55 else "#111"
            out.append(
                f'<rect class="cell" x="{cx}" y="{cy}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{_heat(v)}" data-jaccard="{v:.4f}"><title>{escape(names[i])} ∩ '
                f"{escape(names[j])}: Jaccard {v:.2f}</title></rect>"
                f'<text x="{cx + cell / 2 - 1}" y="{cy + cell / 2 + 4}" text-anchor="middle" '
                f'fill="{ink}" class="cellv">{v:.2f}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def bars(labels: Sequence[str], values: Sequence[float], *, unit: str, css_id: str = "bars") -> Markup:
    """Horizontal bars, one per label, with the value written at the end (funnel steps)."""
    label_w, bar_w, row = 240, 520, 30
    width, height = label_w + bar_w + 120, row * len(labels) + 28
    top = max(values) if values else 1
    top = top or 1
    out = [
        f'<svg id="{escape(css_id)}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(unit)} per step">'
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = 8 + i * row
        w = max(1.0, v / top * bar_w)
        short = escape(label if len(label) <= 34 else label[:33] + "…")
        out.append(
            f'<text class="tick" x="{label_w - 8}" y="{y + 16}" text-anchor="end">{short}</text>'
            f'<rect class="point bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}" '
            f'data-y="{v}"><title>{escape(label)}: {_fmt(v)} {escape(unit)}</title></rect>'
            f'<text class="tick" x="{label_w + w + 6:.1f}" y="{y + 16}">{_fmt(v)} {escape(unit)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def interval(low: float, high: float, point: float, *, label: str, css_id: str = "interval") -> Markup:
    """A point estimate with its confidence interval on an axis that always shows zero."""
    width, height, left, right = 640, 90, 40, 40
    lo, hi = min(low, 0.0), max(high, 0.0)
    span = (hi - lo) or 1.0
    lo, hi = lo - span * 0.1, hi + span * 0.1

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (width - left - right)

    def pct(v: float) -> str:
        return f"{v * 100:+.2f} pp"

    return Markup(
        f'<svg id="{escape(css_id)}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)}">'
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="50" y2="50"/>'
        f'<line class="grid" x1="{px(0):.1f}" x2="{px(0):.1f}" y1="20" y2="70" stroke-dasharray="3 3"/>'
        f'<text class="tick" x="{px(0):.1f}" y="84" text-anchor="middle">0</text>'
        f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="50" y2="50" stroke="{PALETTE[0]}" '
        'stroke-width="6"/>'
        f'<circle class="point" cx="{px(point):.1f}" cy="50" r="6" fill="{PALETTE[1]}" data-y="{point}">'
        f"<title>{escape(label)}: {pct(point)}</title></circle>"
        f'<text class="tick" x="{px(low):.1f}" y="36" text-anchor="middle">{pct(low)}</text>'
        f'<text class="tick" x="{px(high):.1f}" y="36" text-anchor="middle">{pct(high)}</text>'
        f'<text class="label" x="{width / 2}" y="14" text-anchor="middle">{escape(label)}</text></svg>'
    )
