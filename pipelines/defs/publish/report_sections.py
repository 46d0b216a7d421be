"""The sections of the HTML report: pure functions from report data to HTML fragments.

Every value that comes from the warehouse (segment names, file paths, reasons) is escaped:
dynamic segment names are written by analysts, not by us.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html import escape

from pipelines.defs.publish import charts
from pipelines.defs.publish import report_data as rd
from pipelines.defs.publish.quality import QualitySummary


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _money(v: float, currency: str) -> str:
    return f"{currency} {v:,.2f}"


def _delta(now: float, before: float) -> str:
    if before == 0:
        return '<span class="flat">new</span>' if now else '<span class="flat">—</span>'
    change = (now - before) / abs(before)
    css = "up" if change > 0.005 else "down" if change < -0.005 else "flat"
    arrow = "▲" if css == "up" else "▼" if css == "down" else "●"
    return f'<span class="{css}">{arrow} {change:+.1%}</span>'


def _na(reason: str) -> str:
    return f'<p class="na">Not available yet: {escape(reason)}.</p>'


def html_table(
    headers: list[str] | tuple[str, ...], rows: list[list[str]], numeric: set[int] = frozenset()
) -> str:
    """An HTML table; `rows` hold escaped cell HTML, columns in `numeric` align right."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def weekly(data: rd.SectionData, currency: str) -> str:
    if data.weekly is None:
        return _na(data.missing.get("weekly", "no transactions"))
    w = data.weekly
    cards = "".join(
        f'<div class="kpi"><span>{escape(k.name)}</span>'
        f"<b>{_money(k.this_week, currency) if k.is_money else _num(k.this_week)}</b>"
        f"{_delta(k.this_week, k.previous_week)} "
        f"<span>vs {_money(k.previous_week, currency) if k.is_money else _num(k.previous_week)}"
        "</span></div>"
        for k in w.kpis
    )
    out = (
        f'<p class="muted">{w.this_start} – {w.this_end} compared with {w.previous_start} – '
        f"{w.previous_end}.</p><div class=kpis>{cards}</div>"
    )
    history = data.history
    if history and len(history.dates) > 1:
        week_ago = max(
            (d for d in history.dates if d <= data.as_of - timedelta(days=7)), default=None
        )
        if week_ago:
            now, then = history.dates[-1], week_ago
            rows = []
            for label, points in history.series.items():
                a, b = points.get(then, 0), points.get(now, 0)
                rows.append((b - a, label, a, b))
            rows.sort(key=lambda r: -abs(r[0]))
            out += f"<h3>RFM segment sizes: {now} vs {then}</h3>" + html_table(
                ["segment", str(then), str(now), "change"],
                [[escape(lbl), _num(a), _num(b), f"{d:+,}"] for d, lbl, a, b in rows[:6]],
                {1, 2, 3},
            )
    return out


def segments(data: rd.SectionData, currency: str) -> str:
    segs = data.segments
    total_c = sum(s.customers for s in segs) or 1
    total_r = sum(max(s.revenue, 0) for s in segs) or 1
    colours = [charts.colour(s.label, i) for i, s in enumerate(segs)]
    bars = charts.hbar_chart(
        "segment-sizes",
        "Customers per RFM segment",
        [(s.label, s.customers, f"{s.customers:,} ({s.customers / total_c:.1%})") for s in segs],
        colours,
    )
    scored = [(s, c) for s, c in zip(segs, colours, strict=True) if s.label != rd.NO_SEGMENT]
    share = charts.share_bars(
        "revenue-share",
        "Share of customers and of revenue per RFM segment",
        [(s.label, s.customers, s.revenue) for s, _ in scored],
        [c for _, c in scored],
    )
    table = html_table(
        [
            "segment",
            "customers",
            "share",
            f"net revenue ({currency})",
            "revenue share",
            "suggested action",
        ],
        [
            [
                escape(s.label),
                _num(s.customers),
                f"{s.customers / total_c:.1%}",
                f"{s.revenue:,.2f}",
                f"{max(s.revenue, 0) / total_r:.1%}",
                escape(s.suggested_action),
            ]
            for s in segs
        ],
        {1, 2, 3, 4},
    )
    return (
        f"{rule_warnings(data)}{bars}<h3>Customers vs revenue</h3>{share}"
        f"{charts.legend([s.label for s, _ in scored], {s.label: c for s, c in scored})}"
        '<p class="muted">Revenue: net revenue in the RFM lookback window '
        "(<code>monetary</code>).</p>"
        f"{table}"
    )


def rule_warnings(data: rd.SectionData) -> str:
    """Segments whose recency contradicts the lifecycle rules (rule_warnings.py), above the
    segment sizes they qualify."""
    if not data.rule_warnings:
        return ""
    *items, why = data.rule_warnings
    return (
        '<div class="na" id="rule-warnings"><b>What the rules imply</b><ul>'
        + "".join(f"<li>{escape(line)}</li>" for line in items)
        + f"</ul><p>{escape(why)}</p></div>"
    )


def grid(data: rd.SectionData) -> str:
    if not data.grid:
        return _na("no customer has RFM scores")
    cells = {(f"R {r}", f"FM {fm}"): (n, label or "") for (r, fm), (n, label) in data.grid.items()}
    return (
        charts.heatmap(
            "rfm-grid",
            "Customers per R and FM score",
            [f"R {r}" for r in range(5, 0, -1)],
            [f"FM {fm}" for fm in range(1, 6)],
            cells,
            "Recency score",
            "Frequency & monetary score →",
        )
        + '<p class="muted">Each cell: the segment it maps to (seed rfm_segment_map) and its '
        "customers.</p>"
    )


def migration(data: rd.SectionData) -> str:
    m = data.migration
    if m is None:
        return _na(data.missing.get("migration") or data.missing.get("history", "no snapshots"))
    cells = {k: (n, "") for k, n in m.counts.items()}
    stayed = sum(n for (a, b), n in m.counts.items() if a == b)
    return (
        f'<p class="muted">{m.from_date} (rows) → {m.to_date} (columns): {m.moved:,} customers '
        f"changed segment, {stayed:,} stayed (outlined).</p>"
        + charts.heatmap(
            "migration",
            "RFM segment migration",
            m.labels,
            m.labels,
            cells,
            f"From ({m.from_date})",
            f"To ({m.to_date})",
            cell_w=74,
            cell_h=34,
            label_w=140,
            base=(214, 96, 77),
            diagonal=True,
        )
    )


def history(data: rd.SectionData) -> str:
    h = data.history
    if h is None:
        return _na(data.missing.get("history", "no snapshots"))
    colours = {label: charts.colour(label, i) for i, label in enumerate(h.series)}
    chart = charts.line_chart(
        "segment-history", "Customers per RFM segment over time", h.dates, h.series, colours
    )
    return (
        f'<p class="muted">{len(h.dates)} snapshot(s), {h.dates[0]} – {h.dates[-1]} '
        f"(from {escape(h.source)}).</p>{chart}{charts.legend(list(h.series), colours)}"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _cell(value: object, column: str) -> str:
    """A profile value for display: shares as percentages, numbers with separators."""
    if _is_number(value) and column.endswith(("_share", "_rate")):
        return f"{float(value):.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if _is_number(value):
        return f"{value:,}"
    return escape("" if value is None else str(value))


def profiles(data: rd.SectionData) -> str:
    """segment_profiles as published, whatever its columns (the dbt model owns them)."""
    p = data.profiles
    if p is None:
        return _na(data.missing.get("profiles", "no profiles"))
    numeric = {i for i in range(len(p.columns)) if p.rows and _is_number(p.rows[0][i])}
    return html_table(
        [c.replace("_", " ") for c in p.columns],
        [[_cell(v, c) for v, c in zip(row, p.columns, strict=True)] for row in p.rows],
        numeric,
    )


UNKNOWN = "unknown"  # the label of a customer whose inputs for the family are absent


def _unknown_note(sizes: tuple[tuple[str, int], ...]) -> str:
    """How many customers the family could not label for lack of data (no events, no
    discount data), so a chart never reads as if everyone had been judged."""
    unknown = sum(n for label, n in sizes if label == UNKNOWN)
    total = sum(n for _, n in sizes)
    if not unknown:
        return ""
    return (
        f'<p class="na unknown-note">{unknown:,} of {total:,} customers '
        f"({unknown / total:.0%}) are "
        f"<em>{UNKNOWN}</em>: no data to label them in this family (no engagement events, or "
        "no orders from a source that records discounts).</p>"
    )


def families(data: rd.SectionData) -> str:
    parts = []
    for i, fam in enumerate(data.families):
        if not any(n for _, n in fam.sizes):  # a family nobody is in: say so, draw no chart
            parts.append(
                f"<div><h3>{escape(fam.title)}</h3>"
                "<p>No customers in this family as of this date.</p></div>"
            )
            continue
        colours = [charts.PALETTE[(i + j) % len(charts.PALETTE)] for j in range(len(fam.sizes))]
        parts.append(
            f"<div><h3>{escape(fam.title)}</h3>"
            + charts.hbar_chart(
                f"family-{i}",
                fam.title,
                [(lbl, n, f"{n:,}") for lbl, n in fam.sizes],
                colours,
                width=460,
            )
            + _unknown_note(fam.sizes)
            + "</div>"
        )
    if data.dynamic:
        colours = [charts.PALETTE[j % len(charts.PALETTE)] for j in range(len(data.dynamic))]
        parts.append(
            "<div><h3>Dynamic segments</h3>"
            + charts.hbar_chart(
                "dynamic",
                "Members per dynamic segment",
                [(lbl, n, f"{n:,}") for lbl, n in data.dynamic],
                colours,
                width=460,
            )
            + "</div>"
        )
    out = f'<div class="grid2">{"".join(parts)}</div>' if parts else ""
    missing = list(data.missing_families)
    if data.dynamic is None:
        missing.append("Dynamic segments")
    if missing:
        out += _na("these families are not in the published tables: " + ", ".join(missing))
    return out


def quality(q: QualitySummary) -> str:
    out = []
    if q.checks is None:
        out.append(_na(q.checks_note or "no run history"))
    else:
        c = q.checks
        status = (
            f'<b class="ok">{c.passed} of {c.total} checks passed</b>'
            if not c.failed
            else (f'<b class="bad">{len(c.failed)} of {c.total} checks failed</b>')
        )
        out.append(f"<p>{status} in run <code>{escape(c.run_id)}</code>.</p>")
        if c.failed:
            out.append("<ul>" + "".join(f"<li>{escape(f)}</li>" for f in c.failed) + "</ul>")
    if q.loads is None:
        out.append(_na("meta.load_manifest is not published (audited.duckdb)"))
    else:
        ld = q.loads
        out.append(
            html_table(
                [
                    "files",
                    "rows in files",
                    "loaded",
                    "quarantined",
                    "waiting",
                    "re-dropped files",
                    "failed files",
                ],
                [
                    [
                        _num(ld.files),
                        _num(ld.rows_in_files),
                        _num(ld.rows_loaded),
                        _num(ld.rows_quarantined),
                        _num(ld.rows_waiting),
                        _num(ld.duplicate_files),
                        _num(len(ld.failed_files)),
                    ]
                ],
                set(range(7)),
            )
        )
        if ld.failed_files:
            out.append(
                "<h3>Files that failed to load</h3>"
                + html_table(
                    ["file", "error"], [[escape(p), escape(e)] for p, e in ld.failed_files]
                )
            )
    if q.quarantine is not None:
        this_run = q.checks is not None and q.checks.started_at is not None
        headers = ["source", "reason", "rows"] + (["this run"] if this_run else [])
        rows = [
            [escape(s), escape(r), _num(n)] + ([_num(k)] if this_run else [])
            for s, r, n, k in q.quarantine
        ]
        out.append(
            "<h3>Quarantined rows by reason</h3>"
            + (
                html_table(headers, rows, {2, 3})
                if rows
                else '<p class="ok">No row quarantined.</p>'
            )
        )
    return "".join(out)
