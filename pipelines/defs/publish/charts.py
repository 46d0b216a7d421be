"""Inline SVG charts for the HTML report: pure functions from small aggregates to markup.

No JavaScript library, no CDN: the report must open from a file with no network. Every chart
is an `<svg class="chart" data-chart="...">` whose drawn marks carry `class="mark"`, so a
browser test (and the report's own render check) can tell that something was drawn.
Hovering a mark shows its exact value (an SVG `<title>`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

# Colours per RFM segment: greens for the best, warm colours for those slipping away, greys
# for the lost, so the heat map, bars and lines read the same way.
SEGMENT_COLOURS: dict[str, str] = {
    "Champions": "#1a9850",
    "Loyal Customers": "#66bd63",
    "Potential Loyalist": "#a6d96a",
    "New Customers": "#3288bd",
    "Promising": "#66c2a5",
    "Need Attention": "#fee08b",
    "About To Sleep": "#fdae61",
    "At Risk": "#f46d43",
    "Can't Lose Them": "#d73027",
    "Hibernating": "#9e9ac8",
    "Lost": "#969696",
}
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FONT = "font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif"


def colour(label: str, index: int) -> str:
    """The segment's own colour, else a palette colour by position."""
    return SEGMENT_COLOURS.get(label, PALETTE[index % len(PALETTE)])


def _svg(name: str, width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px;{FONT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 12,
    anchor: str = "start",
    fill: str = "#222",
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{escape(text)}</text>'
    )


def hbar_chart(
    name: str,
    title: str,
    rows: Sequence[tuple[str, float, str]],
    colours: Sequence[str],
    width: int = 720,
) -> str:
    """Horizontal bars: one row per (label, value, value text), longest bar = max value."""
    label_w, row_h, pad = 190, 26, 8
    bar_w = width - label_w - 120
    top = max((v for _, v, _ in rows), default=0) or 1
    body = []
    for i, (label, value, text) in enumerate(rows):
        y = pad + i * row_h
        w = max(bar_w * value / top, 0)
        body += [
            _text(label_w - 8, y + 17, label, anchor="end"),
            f'<rect class="mark" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{colours[i]}" rx="2"><title>{escape(label)}: {escape(text)}</title></rect>',
            _text(label_w + w + 6, y + 17, text, size=11, fill="#555"),
        ]
    return _svg(name, width, pad * 2 + row_h * len(rows), body, title)


def share_bars(
    name: str,
    title: str,
    parts: Sequence[tuple[str, float, float]],
    colours: Sequence[str],
    width: int = 720,
) -> str:
    """Two 100% stacked bars, customers and revenue, with the same segment colours: a segment
    whose revenue block is wider than its customer block is worth more than its size."""
    left, bar_h = 90, 34
    span = width - left - 10
    totals = (sum(p[1] for p in parts) or 1, sum(p[2] for p in parts) or 1)
    body = []
    for row, caption in enumerate(("customers", "revenue")):
        y, x = 10 + row * (bar_h + 16), float(left)
        body.append(_text(left - 8, y + bar_h / 2 + 4, caption, anchor="end"))
        for i, part in enumerate(parts):
            share = max(part[row + 1], 0) / totals[row]
            w = span * share
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colours[i]}" stroke="#fff" stroke-width="1">'
                f"<title>{escape(part[0])}: {share:.1%} of {caption}</title></rect>"
            )
            if w > 38:
                body.append(
                    _text(x + w / 2, y + bar_h / 2 + 4, f"{share:.0%}", size=11, anchor="middle")
                )
            x += w
    return _svg(name, width, 10 + 2 * (bar_h + 16), body, title)


def _heat(value: int, top: int, base: tuple[int, int, int]) -> str:
    """White for 0, `base` for the largest cell, linear in between."""
    t = value / top if top else 0
    r, g, b = (round(255 + (c - 255) * t) for c in base)
    return f"rgb({r},{g},{b})"


def heatmap(
    name: str,
    title: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cells: dict[tuple[str, str], tuple[int, str]],
    row_title: str,
    col_title: str,
    *,
    cell_w: int = 112,
    cell_h: int = 52,
    label_w: int = 150,
    base: tuple[int, int, int] = (33, 102, 172),
    diagonal: bool = False,
) -> str:
    """A grid of cells shaded by count; each cell shows its count and an optional caption.

    `cells[(row, col)] = (count, caption)`. `diagonal` is for migration matrices: cells
    whose row and column are equal (customers who stayed) are outlined and shaded grey on
    their own scale, zeros are left blank, and column labels are slanted to fit, so that
    the moves, usually far fewer than the stays, stay readable.
    """
    head = 104 if diagonal else 46
    width = label_w + cell_w * len(col_labels) + (70 if diagonal else 10)
    height = head + cell_h * len(row_labels) + 10
    stays = {k: v for k, (v, _) in cells.items() if diagonal and k[0] == k[1]}
    top = max((v for k, (v, _) in cells.items() if k not in stays), default=0)
    top_stay = max(stays.values(), default=0)
    body = [
        _text(
            label_w + cell_w * len(col_labels) / 2,
            14,
            col_title,
            size=12,
            anchor="middle",
            weight="bold",
        ),
        _text(8, 14, row_title, size=12, weight="bold"),
    ]
    for j, col in enumerate(col_labels):
        cx = label_w + j * cell_w + cell_w / 2
        if diagonal:
            body.append(
                f'<text x="{cx:.1f}" y="{head - 8}" font-size="11" fill="#222" '
                f'transform="rotate(-35 {cx:.1f} {head - 8})">{escape(col)}</text>'
            )
        else:
            body.append(_text(cx, head - 8, col, size=11, anchor="middle"))
    for i, row in enumerate(row_labels):
        y = head + i * cell_h
        body.append(_text(label_w - 8, y + cell_h / 2 + 4, row, size=11, anchor="end"))
        for j, col in enumerate(col_labels):
            value, caption = cells.get((row, col), (0, ""))
            stay = (row, col) in stays or (diagonal and row == col)
            scale, colour_base = (top_stay, (110, 110, 110)) if stay else (top, base)
            fill = _heat(value, scale, colour_base)
            dark = scale and value / scale > 0.55
            x = label_w + j * cell_w
            outline = ' stroke="#222" stroke-width="1.5"' if stay else ' stroke="#fff"'
            body.append(
                f'<rect class="mark" x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" '
                f'fill="{fill}"{outline}><title>{escape(row)} → {escape(col)}: {value:,}'
                f"{' — ' + escape(caption) if caption else ''}</title></rect>"
            )
            ink = "#fff" if dark else "#222"
            if caption:
                body.append(
                    _text(x + cell_w / 2, y + 20, caption, size=10, anchor="middle", fill=ink)
                )
            if value or not diagonal:
                body.append(
                    _text(
                        x + cell_w / 2,
                        y + (38 if caption else cell_h / 2 + 5),
                        f"{value:,}",
                        size=13,
                        anchor="middle",
                        fill=ink,
                        weight="bold",
                    )
                )
    return _svg(name, width, height, body, title)


NICE_STEPS = (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 4.8, 6, 8, 10)


def nice_ceiling(value: float) -> float:
    """The smallest "nice" number at or above `value` (NICE_STEPS × 10^k), whose quarters
    make round axis ticks and which leaves little empty space (55 → 60, 79 → 80)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(round(m * magnitude, 9) for m in NICE_STEPS if m * magnitude >= value)


def line_chart(
    name: str,
    title: str,
    dates: Sequence[date],
    series: dict[str, dict[date, int]],
    colours: dict[str, str],
    width: int = 860,
    height: int = 320,
) -> str:
    """One line per series over time; a missing date counts as 0 customers."""
    left, right, top_pad, bottom = 56, 16, 12, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    first, last = dates[0], dates[-1]
    span = (last - first).days or 1
    top = nice_ceiling(max((max(s.values(), default=0) for s in series.values()), default=0))

    def x(d: date) -> float:
        return left + plot_w * (d - first).days / span

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    body = [f'<rect x="{left}" y="{top_pad}" width="{plot_w}" height="{plot_h}" fill="#fafafa"/>']
    for k in range(5):
        v = top * k / 4
        body += [
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#e4e4e4"/>',
            _text(
                left - 6,
                y(v) + 4,
                f"{v:,.0f}" if v == int(v) else f"{v:,.1f}",
                size=10,
                anchor="end",
                fill="#666",
            ),
        ]
    # Ticks evenly spaced in time (snapshots may be monthly, then daily after a backfill).
    ticks = (
        sorted({first + timedelta(days=round(span * i / 4)) for i in range(5)})
        if last > first
        else [first]
    )
    for d in ticks:
        # The first and last labels align inwards so they are not cut at the edges.
        anchor = "start" if d == first and len(ticks) > 1 else "end" if d == last else "middle"
        body.append(_text(x(d), height - 12, d.isoformat(), size=10, anchor=anchor, fill="#666"))
    for label, points in series.items():
        coords = " ".join(f"{x(d):.1f},{y(points.get(d, 0)):.1f}" for d in dates)
        latest = points.get(dates[-1], 0)
        body.append(
            f'<polyline class="mark" points="{coords}" fill="none" stroke="{colours[label]}" '
            f'stroke-width="2"><title>{escape(label)}: {latest:,} on {dates[-1]}</title></polyline>'
        )
        if len(dates) == 1:  # a single snapshot: a dot, since a one-point line is invisible
            body.append(
                f'<circle class="mark" cx="{x(dates[0]):.1f}" cy="{y(latest):.1f}" r="4" '
                f'fill="{colours[label]}"/>'
            )
    return _svg(name, width, height, body, title)


def legend(labels: Sequence[str], colours: dict[str, str]) -> str:
    """An HTML legend (wraps on narrow screens, unlike SVG text)."""
    items = "".join(
        f'<span class="key"><i style="background:{colours[label]}"></i>{escape(label)}</span>'
        for label in labels
    )
    return f'<div class="legend">{items}</div>'
